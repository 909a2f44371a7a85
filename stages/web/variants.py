"""Copies of pages: exact mirrors (same bytes on another host) and near-duplicates (small edits).

A near-duplicate's `edit_fraction` is the number of words edited divided by the word count of
the original main text: a replaced or deleted word counts 1, two swapped words count 2, and a
dropped or added sentence counts its words. Names and numbers are never edited, so the facts a
near-duplicate still states are stated correctly.
"""

from __future__ import annotations

import random
import re

from stages.web.blocks import Para, inline_text
from stages.web.page import Page

SYNONYMS = {
    "many": "numerous",
    "large": "big",
    "often": "frequently",
    "small": "little",
    "several": "various",
    "important": "significant",
    "new": "fresh",
    "old": "ancient",
    "began": "started",
    "said": "stated",
    "early": "initial",
    "help": "assistance",
    "quiet": "calm",
    "busy": "crowded",
    "long": "lengthy",
    "very": "really",
    "famous": "celebrated",
    "local": "regional",
    "people": "folk",
    "work": "labour",
    "city": "town",
    "known": "recognised",
    "years": "seasons",
    "visitors": "tourists",
    "residents": "inhabitants",
    "company": "firm",
    "story": "tale",
    "details": "particulars",
    "friendly": "kind",
    "steady": "constant",
    "careful": "cautious",
    "plans": "proposals",
}
ADDED_SENTENCES = (
    "This summary was compiled by our editorial team from public sources.",
    "The original version of this text appeared elsewhere and has been lightly adapted.",
    "Readers are encouraged to consult the original sources for further details.",
    "We republish this piece with minor changes for our readers.",
)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"^[a-z]+$")


def mirror(source: Page, host: str) -> Page:
    """The same page on another host; its HTML is copied byte for byte when rendered."""
    return Page(
        host=host,
        path=source.path,
        kind="mirror",
        style=source.style,
        lang=source.lang,
        title=source.title,
        blocks=list(source.blocks),
        entity_ids=list(source.entity_ids),
        section="mirror",
        duplicate_of=source.url,
        edit_fraction=0.0,
    )


def near_duplicate(source: Page, host: str, path: str, target: float, rng: random.Random) -> Page:
    total = len(source.main_text.split())
    budget = max(1, round(target * total))
    # Paragraphs become plain text (links dropped) so that words can be edited anywhere.
    paras = [SENTENCE_END.split(inline_text(b.parts)) if isinstance(b, Para) else None for b in source.blocks]
    edited = _sentence_edits(paras, budget, rng)
    edited += _word_edits(paras, budget - edited, rng)
    blocks = []
    for block, sentences in zip(source.blocks, paras):
        if sentences is None:
            blocks.append(block)
        elif sentences:
            blocks.append(Para((" ".join(sentences),)))
    return Page(
        host=host,
        path=path,
        kind="near_duplicate",
        style=f"near_dup_{source.style}",
        lang=source.lang,
        title=source.title,
        blocks=blocks,
        entity_ids=list(source.entity_ids),
        section="digest",
        duplicate_of=source.url,
        edit_fraction=round(edited / total, 4),
    )


def _sentence_edits(paras: list[list[str] | None], budget: int, rng: random.Random) -> int:
    """Maybe drop one sentence and maybe add one, each using at most half of the budget."""
    edited = 0
    candidates = [
        (i, j)
        for i, p in enumerate(paras)
        if p and len(p) > 1
        for j in range(len(p))
        if len(p[j].split()) <= budget // 2
    ]
    if candidates and rng.random() < 0.6:
        i, j = rng.choice(candidates)
        edited += len(paras[i].pop(j).split())
    additions = [s for s in ADDED_SENTENCES if len(s.split()) <= (budget - edited) // 2]
    targets = [i for i, p in enumerate(paras) if p]
    if additions and targets and rng.random() < 0.6:
        sentence = rng.choice(additions)
        i = rng.choice(targets)
        paras[i].insert(rng.randint(0, len(paras[i])), sentence)
        edited += len(sentence.split())
    return edited


def _word_edits(paras: list[list[str] | None], budget: int, rng: random.Random) -> int:
    """Replace words by synonyms and swap neighbours until `budget` words are edited.

    A word is edited at most once and added sentences are left alone, so the count is exact.
    """
    slots = [(i, j) for i, p in enumerate(paras) if p for j in range(len(p)) if p[j] not in ADDED_SENTENCES]
    touched: dict[tuple[int, int], set[int]] = {}
    edited, progress = 0, True
    while edited < budget and progress:
        progress = False
        rng.shuffle(slots)
        for i, j in slots:
            if edited >= budget:
                break
            words = paras[i][j].split(" ")
            done = touched.setdefault((i, j), set())
            plain = [k for k, w in enumerate(words) if k not in done and WORD.match(w)]
            free = set(plain)
            synonyms = [k for k in plain if words[k] in SYNONYMS]
            pairs = [k for k in plain if k + 1 in free and words[k] != words[k + 1]]
            if synonyms and (budget - edited < 2 or not pairs or rng.random() < 0.6):
                k = rng.choice(synonyms)
                words[k] = SYNONYMS[words[k]]
                done.add(k)
                edited += 1
            elif pairs and budget - edited >= 2:
                k = rng.choice(pairs)
                words[k], words[k + 1] = words[k + 1], words[k]
                done.update((k, k + 1))
                edited += 2
            else:
                continue
            paras[i][j] = " ".join(words)
            progress = True
    return edited
