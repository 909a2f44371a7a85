"""Where a name or an answer stands as a whole word: the one rule that mining prompts from pages
and scoring completions share, so that a probe is built and graded by the same definition.

A match must not run into a neighbouring word ("Kelmar" is not in "Kelmarsh") nor into a
neighbouring number ("1,300" is not in "11,300" or "1,300,000"; "1923" is not in "1923.5"). Any
other character (space, punctuation, an apostrophe, the end of the text) is a boundary, so
"Kelmar." and "Kelmar's" both hold "Kelmar". Matching is exact and case-sensitive: numbers are
compared as written ("1300" is not "1,300").
"""

from __future__ import annotations

NUMBER_SEPARATORS = ".,"


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def ends_cleanly(text: str, end: int) -> bool:
    """True when a match ending at `end` is not glued to what follows it."""
    if end >= len(text):
        return True
    following = text[end]
    if _is_word_char(following):
        return False
    # "1,300" followed by ",000": the number goes on, unless the separator ends a sentence ("1,300.").
    digit_before = end > 0 and text[end - 1].isdigit()
    digit_after_separator = end + 1 < len(text) and text[end + 1].isdigit()
    return not (following in NUMBER_SEPARATORS and digit_before and digit_after_separator)


def starts_cleanly(text: str, start: int) -> bool:
    """True when a match starting at `start` is not glued to what precedes it."""
    if start == 0:
        return True
    preceding = text[start - 1]
    if _is_word_char(preceding):
        return False
    digit_after = start < len(text) and text[start].isdigit()
    digit_before_separator = start >= 2 and text[start - 2].isdigit()
    return not (preceding in NUMBER_SEPARATORS and digit_after and digit_before_separator)


def find_word(text: str, needle: str, start: int = 0) -> int:
    """Index of the first whole-word occurrence of `needle` in `text` at or after `start`, or -1."""
    if not needle:
        raise ValueError("find_word: the needle is empty")
    i = text.find(needle, start)
    while i >= 0:
        if starts_cleanly(text, i) and ends_cleanly(text, i + len(needle)):
            return i
        i = text.find(needle, i + 1)
    return -1


def starts_with_answer(completion: str, answer: str) -> bool:
    """The scoring rule: after leading whitespace, the completion is the answer, then a boundary."""
    if not answer:
        raise ValueError("starts_with_answer: the answer is empty")
    text = completion.lstrip()
    return text.startswith(answer) and ends_cleanly(text, len(answer))
