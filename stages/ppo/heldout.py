"""What the stage measures on a rollout of its held-out prompts, and the replies it keeps for the report.

Every source: the reward model's score and the KL of the sampled replies to the reference (SFT)
model, each with its standard error over the prompts, reply length and end-of-turn rate. World
prompts only: the gold oracle's verdicts (gold score, by kind, "I don't know" and correct rates);
for a user's prompts those keys are null: no oracle knows what is right for an open-ended request.

JSON has no NaN: a figure that is not a finite number (the standard error of one prompt, the
explained variance of returns that do not vary) is null, in the metrics, the samples and the
curves (an empty cell).
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from crisol.core.subsets import seeded_subset
from crisol.grading.oracle import judge
from crisol.grading.text import mean_and_stderr
from stages.ppo.advantages import masked_mean
from stages.ppo.prompts import Prompt
from stages.ppo.rollout import Rollout

GOLD_FIGURES = ("gold_score", "gold_score_stderr", "gold_by_kind", "idk_rate", "correct_rate")


def rounded(value: float, digits: int = 5) -> float | None:
    """The value rounded, or None when it is not a finite number."""
    return round(value, digits) if math.isfinite(value) else None


def finite_tree(value: Any) -> Any:
    """`value` with every non-finite float inside it (dicts and lists, recursively) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_tree(item) for item in value]
    return value


def reply_kl(batch: Rollout) -> Tensor:
    """Each reply's KL to the reference [B]: the sum over its tokens of log p_policy - log p_ref."""
    return ((batch.logprobs - batch.ref_logprobs) * batch.mask).sum(1)


def gold_scores(batch: Rollout, prompts: list[Prompt]) -> list[float]:
    """The oracle's score of each reply against its prompt's gold answer (world prompts)."""
    return [judge(r, p.answer, bool(f)).score for r, p, f in zip(batch.replies, prompts, batch.finished.tolist())]


def held_out_figures(batch: Rollout, prompts: list[Prompt], gold: bool) -> dict[str, Any]:
    kl = reply_kl(batch)
    entry = {
        "rm_score": round(float(batch.rm_scores.mean()), 5),
        "rm_score_stderr": rounded(mean_and_stderr(batch.rm_scores.tolist())[1]),
        "kl": round(float(kl.mean()), 5),
        "kl_stderr": rounded(mean_and_stderr(kl.tolist())[1]),
        "length": round(float(batch.lengths.float().mean()), 3),
        "eos_rate": round(float(batch.finished.float().mean()), 5),
        "entropy_proxy": round(float(-masked_mean(batch.logprobs, batch.mask)), 5),
    }
    return {**entry, **(_gold_figures(batch, prompts) if gold else dict.fromkeys(GOLD_FIGURES))}


def _gold_figures(batch: Rollout, prompts: list[Prompt]) -> dict[str, Any]:
    verdicts = [judge(r, p.answer, bool(f)) for r, p, f in zip(batch.replies, prompts, batch.finished.tolist())]
    gold, gold_stderr = mean_and_stderr([v.score for v in verdicts])
    by_kind: dict[str, list[float]] = {}
    for prompt, verdict in zip(prompts, verdicts):
        by_kind.setdefault(prompt.kind, []).append(verdict.score)
    return {
        "gold_score": round(gold, 5),
        "gold_score_stderr": rounded(gold_stderr),
        "gold_by_kind": {kind: round(sum(s) / len(s), 5) for kind, s in sorted(by_kind.items())},
        "idk_rate": round(sum(v.verdict in ("idk", "idk_invented") for v in verdicts) / len(verdicts), 5),
        "correct_rate": round(sum(v.verdict in ("correct", "idk_invented") for v in verdicts) / len(verdicts), 5),
    }


def samples(batch: Rollout, prompts: list[Prompt], limit: int, seed: int, gold: bool) -> list[dict[str, Any]]:
    """A seeded choice of the held-out rollout's replies, with their scores (gold null without an oracle)."""
    return [
        {
            "question": prompts[i].question,
            "gold": prompts[i].answer,
            "reply": batch.replies[i],
            "rm_score": rounded(float(batch.rm_scores[i]), 4),
            "gold_score": judge(batch.replies[i], prompts[i].answer, bool(batch.finished[i])).score if gold else None,
        }
        for i in seeded_subset(list(range(len(prompts))), limit, seed)
    ]
