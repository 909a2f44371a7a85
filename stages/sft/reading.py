"""Reading comprehension: a passage from a page the model read, a question whose answer is in it.

A passage is a run of consecutive sentences of one seen English page, grown around a sentence
that names the subject in full and states the object, up to `passage_max_chars`. The answer is the
object verbatim, so the model learns to copy from its context. A page about a held-out entity is
never used (its entity list is checked before the names in the text are).
"""

from __future__ import annotations

from crisol.facts.matching import find_word
from crisol.facts.mining import sentences
from crisol.formats.conversations import Example
from crisol.grading.answers import READING_PROMPT
from stages.sft.context import GenContext
from stages.sft.questions import FACT_QUESTIONS
from stages.sft.split import TEST

SENTENCE_MARKS = ".!?"


def passage_around(sents: list[str], k: int, max_chars: int) -> str | None:
    """Sentences around sents[k], alternately after and before, while they fit in max_chars."""
    if len(sents[k]) > max_chars:
        return None
    lo, hi, size = k, k + 1, len(sents[k])
    grew = True
    while grew:
        grew = False
        if hi < len(sents) and size + 1 + len(sents[hi]) <= max_chars:
            size, hi, grew = size + 1 + len(sents[hi]), hi + 1, True
        if lo > 0 and size + 1 + len(sents[lo - 1]) <= max_chars:
            size, lo, grew = size + 1 + len(sents[lo - 1]), lo - 1, True
    return " ".join(sents[lo:hi])


def _candidates(ctx: GenContext, page: dict, sents: list[str]) -> list[tuple[str, str, str, int]]:
    """(entity id, relation, object, sentence index) for each fact a sentence states with the full name."""
    found = []
    for entity_id in dict.fromkeys(page["entity_ids"] or []):
        entity = ctx.ground.entities.get(entity_id)
        if entity is None:
            continue
        for relation, obj in sorted(entity.facts.items()):
            if (entity.kind, relation) not in FACT_QUESTIONS:
                continue
            for k, sent in enumerate(sents):
                if find_word(sent, entity.name) >= 0 and find_word(sent, obj) >= 0:
                    found.append((entity_id, relation, obj, k))
                    break
    return found


def reading_examples(ctx: GenContext) -> list[Example]:
    p = ctx.params
    rng = ctx.rng("reading")
    pages = list(ctx.ground.pages)
    rng.shuffle(pages)
    out: list[Example] = []
    for page in pages:
        if len(out) >= p.reading_examples:
            break
        if any(ctx.splits.get(e) == TEST for e in page["entity_ids"] or []):
            ctx.dropped["reading"] += 1
            continue
        # Headings ("Early life") are lines without an end mark: not prose, so not in passages.
        sents = [s for s in sentences(page["main_text"]) if s[-1] in SENTENCE_MARKS]
        candidates = _candidates(ctx, page, sents)
        if not candidates:
            continue
        entity_id, relation, obj, k = rng.choice(candidates)
        passage = passage_around(sents, k, p.passage_max_chars)
        if passage is None:
            continue
        entity = ctx.ground.entities[entity_id]
        question = rng.choice(FACT_QUESTIONS[entity.kind, relation]).format(s=entity.name)
        example = ctx.routed(
            f"reading:{page['url']}:{entity.fact_ids[relation]}",
            "reading",
            READING_PROMPT.format(passage=passage, question=question),
            obj,
            subject_id=entity_id,
            relation=relation,
            source=page["url"],
        )
        if example is not None:
            out.append(example)
    return out
