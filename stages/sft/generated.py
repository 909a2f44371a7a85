"""Instruction data from the synthetic world's ground truth, self-instruct style, split by entity.

Kinds of example (`Example.kind`):
- fact: a question about one fact, in `questions_per_fact` of its relation's phrasings; the answer
  is the object. About a held-out subject, one phrasing goes to the test split instead: facts the
  model pretrained on and SFT never showed, the questions evaluation asks (gold answer included).
- idk: the same questions about invented entities (NameForge names, none of whose words occurs in
  any real name or object), answered "I don't know.": `idk_examples` to train, then, each with
  names of their own, `idk_eval_examples` to test, `idk_rl_examples` to the RLHF prompts (split
  rl) and `idk_validation_examples` to validation. The kind and relation of each are drawn from
  the real facts, so only the name tells
  a real question from an invented one.
- reading, list, count, compare, two_hop: see stages/sft/reading.py and stages/sft/tasks.py.
  two_hop questions about held-out subjects go to test, like facts.

No train, validation or rl example names a held-out entity anywhere (stages/sft/split.py); those
that would are dropped and counted per kind. Examples naming an rl entity go to split rl, which
SFT never trains on: the reward model and PPO take their prompts from there. Deterministic for a
seed: inputs are read in id order and each kind draws from its own seeded stream.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisol.formats.conversations import Example, qa
from crisol.grading.oracle import IDK_ANSWER
from crisol.world.names import NameForge
from stages.sft.context import GenContext
from stages.sft.ground import Ground, read_ground
from stages.sft.params import GenerationParams
from stages.sft.questions import FACT_QUESTIONS
from stages.sft.reading import reading_examples
from stages.sft.split import RL, TEST, TRAIN, VALIDATION
from stages.sft.tasks import compare_examples, count_examples, list_examples, two_hop_examples

KINDS = ("fact", "idk", "reading", "list", "count", "compare", "two_hop")


@dataclass
class Generated:
    examples: list[Example]
    entities: dict[str, int]  # split -> subject entities
    dropped: dict[str, int] = field(default_factory=dict)  # kind -> examples naming a held-out entity
    invented: list[str] = field(default_factory=list)  # the invented entity names

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]

    def summary(self) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        for e in self.examples:
            counts[e.kind][e.split] = counts[e.kind].get(e.split, 0) + 1
        return {"examples": counts, "entities": self.entities, "dropped_naming_heldout": self.dropped}


def fact_examples(ctx: GenContext) -> list[Example]:
    rng = ctx.rng("fact")
    out: list[Example] = []
    for entity in ctx.ground.entities.values():
        for relation, obj in sorted(ctx.ground.askable(entity).items()):
            phrasings = FACT_QUESTIONS.get((entity.kind, relation))
            if phrasings is None:
                continue
            where = {"subject_id": entity.id, "relation": relation, "source": entity.fact_ids[relation]}
            if ctx.splits[entity.id] == TEST:
                out.append(
                    qa(
                        f"fact:{entity.fact_ids[relation]}:test",
                        "fact",
                        TEST,
                        rng.choice(phrasings).format(s=entity.name),
                        obj,
                        **where,
                    )
                )
                continue
            chosen = rng.sample(range(len(phrasings)), min(ctx.params.questions_per_fact, len(phrasings)))
            for i in sorted(chosen):
                example = ctx.routed(
                    f"fact:{entity.fact_ids[relation]}:{i}", "fact", phrasings[i].format(s=entity.name), obj, **where
                )
                if example is not None:
                    out.append(example)
    return out


def real_words(ground: Ground) -> set[str]:
    """Every word (lower case) of every real name and object: invented names avoid all of them."""
    words = set()
    for entity in ground.entities.values():
        for text in (entity.name, *entity.facts.values()):
            words.update(w.lower() for w in text.split())
    return words


class Inventor:
    """Names for entities that do not exist, shaped like the real ones of each kind."""

    def __init__(self, ground: Ground, rng: random.Random):
        self.real_words = real_words(ground)
        self.forge = NameForge(rng, taken=self.real_words)
        self.real = set(ground.names())
        # Organisations are "<word> <industry suffix>": borrow the real suffixes.
        self.suffixes = sorted({e.name.split(" ", 1)[1] for e in ground.of_kind("organisation") if " " in e.name})
        self.rng = rng

    def name(self, kind: str) -> str:
        while True:
            if kind == "person":
                name = f"{self.forge.word(2, 2, max_len=7)} {self.forge.word(2, 3)}"
            elif kind == "country":
                stem = self.forge.word(2, 2, max_len=8)
                name = stem + ("ia" if stem[-1] not in "aeiou" else "ria")
            elif kind == "organisation" and self.suffixes:
                name = f"{self.forge.word(2, 3)} {self.rng.choice(self.suffixes)}"
            else:
                name = self.forge.word(2, 3)
            # The forge's words are new, but a country's suffixed stem is a string it never checked;
            # an organisation's suffix is borrowed on purpose, so only its first word must be new.
            distinctive = name.split(" ", 1)[0] if kind == "organisation" else name
            if name not in self.real and all(w.lower() not in self.real_words for w in distinctive.split()):
                return name


def idk_examples(ctx: GenContext) -> tuple[list[Example], list[str]]:
    rng = ctx.rng("idk")
    inventor = Inventor(ctx.ground, ctx.rng("idk:names"))
    asked = sorted(
        {
            (e.kind, rel)
            for e in ctx.ground.entities.values()
            for rel in ctx.ground.askable(e)
            if (e.kind, rel) in FACT_QUESTIONS
        }
    )
    if not asked:
        return [], []
    p = ctx.params
    out, names = [], []
    splits = (
        [TRAIN] * p.idk_examples
        + [TEST] * p.idk_eval_examples
        + [RL] * p.idk_rl_examples
        + [VALIDATION] * p.idk_validation_examples
    )
    for i, split in enumerate(splits):
        kind, relation = rng.choice(asked)
        name = inventor.name(kind)
        names.append(name)
        question = rng.choice(FACT_QUESTIONS[kind, relation]).format(s=name)
        out.append(qa(f"idk:{i}", "idk", split, question, IDK_ANSWER, relation=relation, source=f"invented:{kind}"))
    return out, names


def generate(ground: Ground, params: GenerationParams) -> Generated:
    ctx = GenContext(ground, params)
    idk, invented = idk_examples(ctx)
    examples = [
        *fact_examples(ctx),
        *idk,
        *reading_examples(ctx),
        *list_examples(ctx),
        *count_examples(ctx),
        *compare_examples(ctx),
        *two_hop_examples(ctx),
    ]
    return Generated(examples, dict(Counter(ctx.splits.values())), dict(ctx.dropped), invented)


def generate_from_files(facts: Path | str, pages: Path | str, params: GenerationParams) -> Generated:
    return generate(read_ground(facts, pages, params.only_stated_facts), params)
