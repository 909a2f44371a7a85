"""What every generator of SFT examples shares: the ground truth, the params, the entity split,
seeded randomness, and the rule that routes an example to its split or drops it."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from crisol.formats.conversations import Example, qa
from stages.sft.ground import Ground
from stages.sft.params import GenerationParams
from stages.sft.split import TEST, TRAIN, MentionRouter, entity_split


@dataclass
class GenContext:
    ground: Ground
    params: GenerationParams
    splits: dict[str, str] = field(default_factory=dict)  # entity id -> train|validation|test
    dropped: Counter = field(default_factory=Counter)  # kind -> examples naming a held-out entity

    def __post_init__(self) -> None:
        p = self.params
        for entity in self.ground.entities.values():
            self.splits[entity.id] = (
                entity_split(entity.id, p.split_salt, p.heldout_fraction, p.validation_fraction, p.rl_fraction)
                if entity.kind in p.heldout_kinds
                else TRAIN
            )
        self.router = MentionRouter({self.ground.entities[i].name: s for i, s in self.splits.items() if s != TRAIN})

    def rng(self, purpose: str) -> random.Random:
        """One stream per generator, so that changing one kind's count never reshuffles another."""
        return random.Random(f"{self.params.seed}:{purpose}")

    def routed(
        self,
        example_id: str,
        kind: str,
        question: str,
        answer: str,
        hidden: Sequence[str] = (),
        reply: str | None = None,
        **where: str | None,
    ) -> Example | None:
        """A one-turn training, validation or RL example, or None (counted) if it names a held-out entity
        (in its text, or among the `hidden` names its answer rests on without saying them)."""
        split = self.router.route([question, answer, *([reply] if reply else []), *hidden])
        if split == TEST:
            self.dropped[kind] += 1
            return None
        return qa(example_id, kind, split, question, answer, reply, **where)
