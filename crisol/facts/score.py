"""Grading a model's completions of fact probes: accuracy overall and per relation, with examples.

A completion is right when, after leading whitespace, it starts with the answer followed by a
word boundary (crisol/facts/matching.py): "Kelmar." is right for "Kelmar", "Kelmarsh" is not;
numbers are compared as written, so "1,300" is right and "1300" or "1,300,000" are not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from crisol.facts.matching import starts_with_answer
from crisol.facts.probes import FactProbe, chance_rate

EXAMPLES = 5  # examples kept of each outcome
EXAMPLE_CHARS = 80  # completions are cut to this length in examples

Complete = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class RelationScore:
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class Example:
    fact_id: str
    relation: str
    prompt: str
    answer: str
    completion: str


@dataclass
class FactScore:
    correct: int
    total: int
    chance: float  # chance_rate of the probes scored
    by_relation: dict[str, RelationScore]
    right: list[Example] = field(default_factory=list)
    wrong: list[Example] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values for metrics JSON and reports."""
        return {
            "accuracy": round(self.accuracy, 4),
            "correct": self.correct,
            "total": self.total,
            "chance": round(self.chance, 4),
            "by_relation": {
                r: {"accuracy": round(s.accuracy, 4), "correct": s.correct, "total": s.total}
                for r, s in sorted(self.by_relation.items())
            },
            "examples_right": [asdict(e) for e in self.right],
            "examples_wrong": [asdict(e) for e in self.wrong],
        }


def is_correct(completion: str, answer: str) -> bool:
    return starts_with_answer(completion, answer)


def score_completions(
    probes: list[FactProbe],
    complete: Complete,
    batch_size: int = 64,
    examples: int = EXAMPLES,
    modes: dict[str, str] | None = None,
) -> FactScore:
    """Ask `complete` for each probe's continuation, `batch_size` prompts at a time, and grade them.
    `modes`: the per-relation answers that define chance (see chance_rate)."""
    if not probes:
        raise ValueError("score_completions: no probes to score")
    if batch_size < 1:
        raise ValueError(f"score_completions: batch_size must be at least 1 (got {batch_size})")
    completions: list[str] = []
    for start in range(0, len(probes), batch_size):
        prompts = [p.prompt for p in probes[start : start + batch_size]]
        answered = complete(prompts)
        if not isinstance(answered, list) or len(answered) != len(prompts):
            got = len(answered) if isinstance(answered, list) else type(answered).__name__
            raise ValueError(f"complete() returned {got} completions for {len(prompts)} prompts")
        if not all(isinstance(c, str) for c in answered):
            raise ValueError("complete() must return strings")
        completions.extend(answered)
    outcomes = [is_correct(c, p.answer) for p, c in zip(probes, completions)]
    counts: dict[str, list[int]] = {}
    for probe, ok in zip(probes, outcomes):
        tally = counts.setdefault(probe.relation, [0, 0])
        tally[0] += ok
        tally[1] += 1
    return FactScore(
        correct=sum(outcomes),
        total=len(probes),
        chance=chance_rate(probes, modes),
        by_relation={r: RelationScore(c, t) for r, (c, t) in counts.items()},
        right=_examples(probes, completions, outcomes, True, examples),
        wrong=_examples(probes, completions, outcomes, False, examples),
    )


def _examples(
    probes: list[FactProbe], completions: list[str], outcomes: list[bool], wanted: bool, k: int
) -> list[Example]:
    """Up to `k` examples of one outcome, one relation after another before any repeats."""
    seen: dict[str, int] = {}
    ranked = []
    for i, (probe, ok) in enumerate(zip(probes, outcomes)):
        if ok == wanted:
            ranked.append((seen.get(probe.relation, 0), i))
            seen[probe.relation] = seen.get(probe.relation, 0) + 1
    chosen = sorted(ranked)[:k]
    return [
        Example(
            probes[i].fact_id, probes[i].relation, probes[i].prompt, probes[i].answer, completions[i][:EXAMPLE_CHARS]
        )
        for _, i in sorted(chosen, key=lambda r: r[1])
    ]
