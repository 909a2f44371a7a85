"""What each finished run measured, read from its pretrain metrics.json: the law's inputs (N, D,
final validation loss) and the capability checks pretrain records (closed-book fact completion)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crisol.core.errors import StageInputError
from stages.scaling.plan import Plan
from stages.scaling.runs import METRICS, read_json


@dataclass(frozen=True)
class RunResult:
    id: str
    depth: int
    d_model: int
    params: int  # N, non-embedding
    tokens: int  # D
    steps: int
    budgets: tuple[float, ...]  # the grid budgets this run stands for
    loss: float  # final validation loss, nats per token
    bits_per_byte: float
    fact_accuracy: float | None  # closed-book fact completion at the end (None: not measured)
    fact_chance: float | None
    flops_counted: float  # pretrain's own count (6 N' D plus output projection and attention)
    train_seconds: float
    epochs: float  # D over the train split's tokens (the law assumes < 1)
    resumed_from: int | None

    @property
    def flops(self) -> float:
        """C = 6 N D, the law's compute."""
        return 6.0 * self.params * self.tokens

    def row(self) -> dict[str, Any]:
        return {
            "run": self.id,
            "depth": self.depth,
            "d_model": self.d_model,
            "params": self.params,
            "tokens": self.tokens,
            "steps": self.steps,
            "flops": self.flops,
            "budgets": " ".join(f"{b:.3g}" for b in self.budgets),
            "tokens_per_param": self.tokens / self.params,
            "epochs": round(self.epochs, 3),
            "loss": self.loss,
            "bits_per_byte": self.bits_per_byte,
            "fact_accuracy": self.fact_accuracy,
            "fact_chance": self.fact_chance,
            "train_seconds": self.train_seconds,
            "resumed_from_step": self.resumed_from,
        }


def collect(plan: Plan) -> list[RunResult]:
    """Every planned run's result (all must be done), in plan order."""
    budgets: dict[str, list[float]] = {}
    for point, rid in zip(plan.points, plan.point_runs):
        budgets.setdefault(rid, []).append(point.budget)
    results = []
    for run in plan.runs:
        path = plan.directory(run) / METRICS
        metrics = read_json(path)
        if metrics is None:
            raise StageInputError(f"{path}: run {run.id} has no metrics (not done)")
        try:
            facts = metrics.get("facts") or {}
            results.append(
                RunResult(
                    id=run.id,
                    depth=run.depth,
                    d_model=int(metrics["model"]["d_model"]),
                    params=int(metrics["parameters_non_embedding"]),
                    tokens=int(metrics["tokens"]),
                    steps=int(metrics["steps"]),
                    budgets=tuple(budgets[run.id]),
                    loss=float(metrics["validation"]["loss"]),
                    bits_per_byte=float(metrics["validation"]["bits_per_byte"]),
                    fact_accuracy=facts.get("accuracy"),
                    fact_chance=facts.get("chance"),
                    flops_counted=float(metrics["flops"]),
                    train_seconds=float(metrics["train_seconds"]),
                    epochs=int(metrics["tokens"]) / max(plan.train_tokens, 1),
                    resumed_from=metrics.get("resumed_from_step"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StageInputError(f"{path}: not a pretrain metrics file ({exc!r})") from None
    return results
