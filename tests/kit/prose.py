"""The prose checks of the synthetic web's tests: the quality rules web corpora apply (Gopher's
repetition and alphabetic rules) and the sentence that states a fact, as an extractor prints a page."""

from __future__ import annotations

import re
from collections import Counter

from stages.web.blocks import Table, block_lines
from stages.web.page import Page

# Gopher's published thresholds (Rae et al. 2021, A.1.1): the most frequent 2-, 3- and 4-gram may
# cover at most this share of a page's word characters; 80% of words must contain a letter.
TOP_NGRAM_MAX = {2: 0.20, 3: 0.18, 4: 0.16}
MIN_ALPHA_WORDS = 0.8
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def extracted_text(page: Page) -> str:
    """The main text as an extractor prints it: tables in markdown, with a pipe at either end of
    each row and a separator row (trafilatura's output), so separators count against the page."""
    lines = [page.title]
    for block in page.blocks:
        if isinstance(block, Table):
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|---" * len(block.header) + "|")
            lines += ["| " + line + " |" for line in block_lines(block)[1:]]
        else:
            lines += block_lines(block)
    return "\n".join(lines)


def top_ngram_char_frac(words: list[str], n: int) -> float:
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    gram, count = max(grams.items(), key=lambda item: item[1])
    return sum(map(len, gram)) * count / sum(map(len, words)) if count > 1 else 0.0


def alpha_words_frac(words: list[str]) -> float:
    return sum(any(c.isalpha() for c in w) for w in words) / len(words)


def names_subject_and_states(text: str, subject: str, obj: str) -> bool:
    """Some sentence of `text` holds both the subject's full name and the fact's object."""
    return any(subject in s and obj in s for s in SENTENCE_END.split(text.replace("\n", " ")))
