"""What SFT is judged by, before and after fine-tuning: the few-shot baseline of the model it starts
from and the fine-tuned model's exact match on the world's held-out questions, the assistant-token
loss of both on the user's held-out rows, and sample conversations for the report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from crisol.chat.template import ChatTemplate
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import Example
from crisol.grading.answers import Graded, chat_replies, few_shot_replies, grade
from crisol.model.transformer import Transformer
from stages.sft.batches import Sequence
from stages.sft.params import SftParams
from stages.sft.train import assistant_loss
from stages.sft.user_test import held_out_user_figures


@dataclass
class HeldOut:
    """The held-out examples: the world's questions (short gold answers, exact match) and the
    user's rows (free text, assistant-token loss), and the validation examples samples come from."""

    world: list[Example]
    user: list[Example]
    user_sequences: list[Sequence]
    samples_from: list[Example]


@dataclass
class Baseline:
    """The model SFT starts from, scored before training."""

    graded: list[Graded]  # few-shot replies to the world's held-out questions
    shots: list[tuple[str, str]]  # the demonstrations (the first `shots_used` were shown)
    shots_used: int
    user_loss: float | None


@dataclass
class Tested:
    """The fine-tuned model, scored after training."""

    graded: list[Graded]  # chat replies to the world's held-out questions
    user_figures: dict[str, Any] | None
    samples: list[Graded]


def baseline(
    model: Transformer,
    held_out: HeldOut,
    train: list[Example],
    template: ChatTemplate,
    params: SftParams,
    device: torch.device,
    bf16: bool,
) -> Baseline:
    """The starting model's few-shot exact match and its loss on the user's held-out rows."""
    shots = _shots(train, params.few_shot, params.seed)
    world = held_out.world
    replies, shots_used = (
        few_shot_replies(model, template, [e.messages[-2]["content"] for e in world], shots, params.max_new_tokens)
        if world
        else ([], 0)
    )
    graded = grade(world, replies)
    user_loss = assistant_loss(model, held_out.user_sequences, template.pad_id, device, bf16) if held_out.user else None
    return Baseline(graded, shots, shots_used, user_loss)


def evaluate_tuned(
    model: Transformer,
    held_out: HeldOut,
    before: Baseline,
    template: ChatTemplate,
    params: SftParams,
    device: torch.device,
    bf16: bool,
) -> Tested:
    """The fine-tuned model on the same held-out examples, and the sample conversations."""
    graded = grade(held_out.world, chat_replies(model, template, held_out.world, params.max_new_tokens))
    user_loss = assistant_loss(model, held_out.user_sequences, template.pad_id, device, bf16) if held_out.user else None
    user_figures = held_out_user_figures(held_out.user_sequences, before.user_loss, user_loss)
    return Tested(graded, user_figures, _samples(model, template, graded, held_out.samples_from, params))


def evaluation_file(before: Baseline, after: Tested) -> dict[str, Any]:
    """<out>/evaluation.json: every graded reply, after and before, and the shots shown."""
    return {
        "test": [g.to_row() for g in after.graded],
        "baseline_few_shot": [g.to_row() for g in before.graded],
        "shots": before.shots[: before.shots_used],
    }


def _samples(
    model: Transformer, template: ChatTemplate, tested: list[Graded], validation: list[Example], params: SftParams
) -> list[Graded]:
    """Sample conversations for the report, spread over the kinds: graded test questions, and for
    the kinds the test split lacks (reading, list, count, compare), validation questions answered now."""
    by_kind: dict[str, list[Graded]] = {}
    for graded in tested:
        by_kind.setdefault(graded.example.kind, []).append(graded)
    others: dict[str, list[Example]] = {}
    for example in validation:
        if example.kind not in by_kind:
            others.setdefault(example.kind, []).append(example)
    kinds = [*sorted(by_kind), *sorted(others)]  # the held-out test kinds first
    if not kinds or not params.samples:
        return []
    per_kind = -(-params.samples // len(kinds))
    picked: list[Graded] = []
    for kind in kinds:
        if kind in by_kind:
            picked += seeded_subset(by_kind[kind], per_kind, params.seed)
        else:
            asked = seeded_subset(others[kind], per_kind, params.seed)
            picked += grade(asked, chat_replies(model, template, asked, params.max_new_tokens))
    return picked[: params.samples]


def _shots(train: list[Example], count: int, seed: int) -> list[tuple[str, str]]:
    """Few-shot demonstrations: training fact questions about different relations."""
    by_relation: dict[str | None, Example] = {}
    for example in random.Random(seed).sample(train, len(train)):
        if example.kind == "fact" and example.relation not in by_relation:
            by_relation[example.relation] = example
    chosen = list(by_relation.values())[:count]
    return [(e.messages[-2]["content"], e.answer) for e in chosen]
