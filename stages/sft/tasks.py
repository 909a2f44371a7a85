"""Small tasks over the world: listing and counting the members of a group, comparing two entities,
and two-step questions.

Groups (cities on a river, people born in a city, ...) are read from all facts, since they are the
truth about the world; comparisons and two-step questions use only the facts a question may ask
about (every value must be one the model could have read). List answers are in alphabetical
order, so one answer is right.
"""

from __future__ import annotations

from crisol.formats.conversations import Example, qa
from stages.sft.context import GenContext
from stages.sft.questions import (
    COMPARE_QUESTIONS,
    COUNT_QUESTIONS,
    LIST_QUESTIONS,
    LIST_SEPARATOR,
    TWO_HOP_QUESTIONS,
    TWO_HOP_REPLIES,
)
from stages.sft.split import TEST

COMPARE_ATTEMPTS = 20  # random pairs tried per comparison wanted, before giving up


def groups(ctx: GenContext, relation: str, kind: str) -> dict[str, list[str]]:
    """object -> sorted names of the entities of `kind` whose `relation` is that object."""
    out: dict[str, list[str]] = {}
    for entity in ctx.ground.of_kind(kind):
        if relation in entity.facts:
            out.setdefault(entity.facts[relation], []).append(entity.name)
    return {obj: sorted(names) for obj, names in sorted(out.items())}


def _take(ctx: GenContext, candidates: list[tuple[str, str, str, str]], kind: str, limit: int) -> list[Example]:
    """Shuffle (id, question, answer, relation) candidates and keep the first `limit` that route."""
    ctx.rng(f"{kind}:order").shuffle(candidates)
    out: list[Example] = []
    for example_id, question, answer, relation in candidates:
        if len(out) >= limit:
            break
        example = ctx.routed(example_id, kind, question, answer, relation=relation)
        if example is not None:
            out.append(example)
    return out


def list_examples(ctx: GenContext) -> list[Example]:
    rng = ctx.rng("list")
    candidates = []
    for (relation, kind), phrasings in LIST_QUESTIONS.items():
        for obj, names in groups(ctx, relation, kind).items():
            if 2 <= len(names) <= ctx.params.list_max_items:
                candidates.append(
                    (
                        f"list:{relation}:{obj}",
                        rng.choice(phrasings).format(o=obj),
                        LIST_SEPARATOR.join(names),
                        relation,
                    )
                )
    return _take(ctx, candidates, "list", ctx.params.list_examples)


def count_examples(ctx: GenContext) -> list[Example]:
    rng = ctx.rng("count")
    candidates = []
    for (relation, kind), phrasings in COUNT_QUESTIONS.items():
        for obj, names in groups(ctx, relation, kind).items():
            candidates.append(
                (f"count:{relation}:{obj}", rng.choice(phrasings).format(o=obj), str(len(names)), relation)
            )
    return _take(ctx, candidates, "count", ctx.params.count_examples)


def _value(text: str) -> int | None:
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else None


def compare_examples(ctx: GenContext) -> list[Example]:
    rng = ctx.rng("compare")
    pools = {}
    for (kind, relation, wins), phrasings in COMPARE_QUESTIONS.items():
        valued = [(e.name, _value(ctx.ground.askable(e).get(relation, ""))) for e in ctx.ground.of_kind(kind)]
        valued = [(name, v) for name, v in valued if v is not None]
        if len(valued) >= 2:
            pools[kind, relation, wins] = (valued, phrasings)
    candidates: dict[str, tuple[str, str, str, str]] = {}
    specs = sorted(pools)
    for _ in range(ctx.params.compare_examples * COMPARE_ATTEMPTS if specs else 0):
        if len(candidates) >= ctx.params.compare_examples * 2:  # room for the ones routing drops
            break
        kind, relation, wins = spec = rng.choice(specs)
        valued, phrasings = pools[spec]
        (a, va), (b, vb) = rng.sample(valued, 2)
        if va == vb:
            continue
        winner = (a if va > vb else b) if wins == "max" else (a if va < vb else b)
        example_id = f"compare:{relation}:{':'.join(sorted((a, b)))}"
        candidates.setdefault(example_id, (example_id, rng.choice(phrasings).format(a=a, b=b), winner, relation))
    return _take(ctx, list(candidates.values()), "compare", ctx.params.compare_examples)


def two_hop_examples(ctx: GenContext) -> list[Example]:
    """Questions whose answer takes two facts: the subject's `first` relation names an entity whose
    `second` relation is the answer (the country of a person's birth city); the reply names the
    middle entity before it answers (TWO_HOP_REPLIES), test examples' too. Split like fact
    questions: a held-out subject's question goes to test (one phrasing); otherwise the example
    routes by every name it rests on, the hidden middle entity included, so no training example
    implies a fact of a held-out city. At most `two_hop_examples` go to train and validation."""
    rng = ctx.rng("two_hop")
    by_name = {e.name: e for e in ctx.ground.entities.values()}
    tested, candidates = [], []
    for entity in ctx.ground.entities.values():
        for (first, second), phrasings in TWO_HOP_QUESTIONS.items():
            middle = by_name.get(ctx.ground.askable(entity).get(first, ""))
            answer = ctx.ground.askable(middle).get(second) if middle is not None else None
            if answer is None:
                continue
            example_id = f"two_hop:{entity.fact_ids[first]}:{middle.fact_ids[second]}"
            question = rng.choice(phrasings).format(s=entity.name)
            reply = TWO_HOP_REPLIES[first, second].format(m=middle.name, a=answer)
            where = {"subject_id": entity.id, "relation": f"{first}.{second}", "source": middle.id}
            if ctx.splits[entity.id] == TEST:
                tested.append(qa(f"{example_id}:test", "two_hop", TEST, question, answer, reply, **where))
            else:
                candidates.append((example_id, question, answer, reply, middle.name, where))
    ctx.rng("two_hop:order").shuffle(candidates)
    out: list[Example] = []
    for example_id, question, answer, reply, middle, where in candidates:
        if len(out) >= ctx.params.two_hop_examples:
            break
        example = ctx.routed(example_id, "two_hop", question, answer, hidden=[middle], reply=reply, **where)
        if example is not None:
            out.append(example)
    return [*out, *tested]
