"""Reads the sentences that state facts out of the web's English pages, as the model will see them.

For every sentence of a page's main text, the sentence's topic is the page entity whose full name
comes first (the longest name on a tie, so "Osk Weaving Mills" wins over a city called "Osk").
Each fact of the topic whose object follows the topic's name in that sentence yields a prefix:
the sentence from its start up to the object, e.g. "Edreim Naerreima was born in" for the object
"Belkroungi". Reading the topic first keeps sentences about someone else out: "Anna Osk was born
in Kelmar in 1885" is about Anna Osk, whatever Kelmar's founding year happens to be.

Only prose counts: table rows (cells joined by " | " in main text) state facts without a
sentence to continue. A prefix must end with a space before the object (the object starts a
word) and must not already contain the object. Where two objects of the topic match overlapping
text, the longer one is what the sentence states.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from crisol.facts.matching import ends_cleanly, find_word

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
TABLE_CELL_SEPARATOR = " | "


@dataclass(frozen=True)
class FactRow:
    fact_id: str
    subject_id: str
    subject: str
    relation: str
    object: str


@dataclass
class Mined:
    """What the pages say: per fact, the prefixes that lead to its object, with their counts."""

    prefixes: dict[str, Counter] = field(default_factory=dict)  # fact_id -> prefix -> occurrences
    stated: set[str] = field(default_factory=set)  # facts whose object a page about the subject prints
    pages: int = 0  # pages read

    def add(self, fact_id: str, prefix: str) -> None:
        self.prefixes.setdefault(fact_id, Counter())[prefix] += 1


def sentences(main_text: str) -> Iterable[str]:
    """The prose sentences of a main text: one paragraph per line, table rows left out."""
    for line in main_text.split("\n"):
        if TABLE_CELL_SEPARATOR in line:
            continue
        for sentence in SENTENCE_END.split(line.strip()):
            if sentence:
                yield sentence


class SentenceIndex:
    """Every prose sentence of the seen pages, sorted, to ask how the pages continue a prompt."""

    def __init__(self, main_texts: Iterable[str]):
        self._sorted = sorted(s for text in main_texts for s in sentences(text))

    def _starting_with(self, head: str) -> list[str]:
        lo = bisect.bisect_left(self._sorted, head)
        hi = bisect.bisect_left(self._sorted, head + "\U0010ffff")
        return self._sorted[lo:hi]

    def only_continues_with(self, prompt: str, answer: str) -> bool:
        """True when every seen sentence that starts with `prompt` goes on with `answer` (a whole
        word): then the prompt determines its answer in the training text. "X has" fails when one
        page says "X has 480 employees" and another "X has its head office in Dokra"."""
        return all(
            s.startswith(answer, len(prompt) + 1) and ends_cleanly(s, len(prompt) + 1 + len(answer))
            for s in self._starting_with(prompt + " ")
        )


def topic(sentence: str, names: list[tuple[str, str]]) -> tuple[str, int] | None:
    """(entity id, end of its name) of the page entity named first in `sentence`, or None."""
    best: tuple[int, int, str] | None = None  # (start, -length, entity id)
    for name, entity_id in names:
        start = find_word(sentence, name)
        if start >= 0 and (best is None or (start, -len(name)) < best[:2]):
            best = (start, -len(name), entity_id)
    if best is None:
        return None
    start, minus_length, entity_id = best
    return entity_id, start - minus_length


def mine_page(
    main_text: str, entity_ids: Iterable[str], facts_by_subject: dict[str, list[FactRow]], into: Mined
) -> None:
    """Adds one page's fact-stating prefixes (and the facts it states at all) to `into`."""
    subjects = [e for e in dict.fromkeys(entity_ids) if e in facts_by_subject]
    if not subjects:
        return
    into.pages += 1
    for subject_id in subjects:
        for fact in facts_by_subject[subject_id]:
            if fact.fact_id not in into.stated and find_word(main_text, fact.object) >= 0:
                into.stated.add(fact.fact_id)
    names = [(facts_by_subject[s][0].subject, s) for s in subjects]
    for sentence in sentences(main_text):
        found = topic(sentence, names)
        if found is None:
            continue
        subject_id, name_end = found
        hits = [
            (at, at + len(fact.object), fact)
            for fact in facts_by_subject[subject_id]
            if (at := find_word(sentence, fact.object, name_end)) >= 0
        ]
        for at, end, fact in hits:
            # "Roudruxin" (a language) inside "Roudruxin crown" (a currency): the sentence states the longer.
            if any(a <= at and end <= e and (a, e) != (at, end) for a, e, _ in hits):
                continue
            if sentence[at - 1] != " ":
                continue
            prefix = sentence[:at].rstrip()
            if find_word(prefix, fact.object) < 0:
                into.add(fact.fact_id, prefix)


def template_of(prefix: str, fact: FactRow, siblings: list[FactRow]) -> str:
    """The prefix with the subject and the subject's other facts as slots: '{subject} was born in
    {born_in} in'. Names the wording a probe uses, independent of the entity."""
    slots = [(fact.subject, "{subject}")] + [
        (f.object, "{" + f.relation + "}") for f in siblings if f.fact_id != fact.fact_id
    ]
    for value, slot in sorted(slots, key=lambda s: -len(s[0])):
        at = find_word(prefix, value)
        while at >= 0:
            prefix = prefix[:at] + slot + prefix[at + len(value) :]
            at = find_word(prefix, value, at + len(slot))
    return prefix
