"""Which prompts a PPO step samples. SFT's questions are far from even across kinds (thousands of
fact questions, a few dozen counts), and a batch drawn uniformly would almost never ask about an
invented entity or a two-step question, the kinds where the SFT model is weakest. Balanced, each
prompt's kind is drawn uniformly first, then a question of that kind."""

from __future__ import annotations

import random
from typing import Sequence

from stages.common.conversations import Example


class PromptSampler:
    def __init__(self, examples: Sequence[Example], balance_kinds: bool, seed: int) -> None:
        if not examples:
            raise ValueError("PPO needs at least one prompt to sample")
        self.examples = list(examples)
        self.by_kind: dict[str, list[Example]] = {}
        for example in self.examples:
            self.by_kind.setdefault(example.kind, []).append(example)
        self.kinds = sorted(self.by_kind)
        self.balance_kinds = balance_kinds
        self.rng = random.Random(seed)

    def batch(self, size: int) -> list[Example]:
        """`size` prompts: balanced across kinds (with replacement within a kind), or a uniform
        draw without replacement (all of them when there are fewer than `size`)."""
        if not self.balance_kinds:
            return self.rng.sample(self.examples, min(size, len(self.examples)))
        return [self.rng.choice(self.by_kind[self.rng.choice(self.kinds)]) for _ in range(size)]
