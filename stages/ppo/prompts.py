"""What a PPO prompt is, and which prompts a PPO step samples.

A prompt is the conversation before the reply (ending with a user turn). World prompts carry the
gold answer the oracle judges replies against; a user's prompts have none (answer None): nothing
can say what is right for an open-ended request but the reward model.

SFT's questions are far from even across kinds (thousands of fact questions, a few dozen counts),
and a batch drawn uniformly would almost never ask about an invented entity or a two-step
question, the kinds where the SFT model is weakest. Balanced, each prompt's kind is drawn
uniformly first, then a question of that kind (a user's prompts are all of one kind, "user")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from crisol.formats.conversations import Example


@dataclass(frozen=True)
class Prompt:
    id: str
    kind: str  # an SFT example kind, or "user"
    messages: list[dict[str, str]]  # the conversation so far, ending with a user turn
    tokens: list[int]  # its generation prompt (template.generation_prompt): what the policy reads
    answer: str | None = None  # the gold answer (world prompts only)
    source: str | None = None  # where it came from: file:row, or the example's source

    @property
    def question(self) -> str:
        return self.messages[-1]["content"]


@dataclass
class PromptSets:
    """PPO's training prompts, the held-out ones its curve and final figures are measured on, and
    what reading them came to (for the metrics)."""

    train: list[Prompt]
    heldout: list[Prompt]
    summary: dict[str, Any] = field(default_factory=dict)


class PromptSampler:
    def __init__(self, examples: Sequence[Prompt], balance_kinds: bool, seed: int) -> None:
        if not examples:
            raise ValueError("PPO needs at least one prompt to sample")
        self.examples = list(examples)
        self.by_kind: dict[str, list[Example]] = {}
        for example in self.examples:
            self.by_kind.setdefault(example.kind, []).append(example)
        self.kinds = sorted(self.by_kind)
        self.balance_kinds = balance_kinds
        self.rng = random.Random(seed)

    def batch(self, size: int) -> list[Prompt]:
        """`size` prompts: balanced across kinds (with replacement within a kind), or a uniform
        draw without replacement (all of them when there are fewer than `size`)."""
        if not self.balance_kinds:
            return self.rng.sample(self.examples, min(size, len(self.examples)))
        return [self.rng.choice(self.by_kind[self.rng.choice(self.kinds)]) for _ in range(size)]
