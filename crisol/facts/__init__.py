"""Closed-book fact-completion probes from the synthetic web's ground truth, and their scoring.

A library package (not a stage): pretraining reports memorisation with it at checkpoints, and
evaluation builds closed-book QA on it. It reads the web stage's artifacts (facts.parquet,
pages.parquet), never the web stage's code.
"""

from __future__ import annotations

from crisol.facts.complete import TokenCompleter, token_completer
from crisol.facts.probes import (
    FactProbe,
    ProbeSet,
    build_probes,
    chance_rate,
    mode_answers,
    probe_set,
    probes_from_rows,
)
from crisol.facts.score import FactScore, RelationScore, is_correct, score_completions

__all__ = [
    "FactProbe",
    "FactScore",
    "ProbeSet",
    "RelationScore",
    "TokenCompleter",
    "build_probes",
    "chance_rate",
    "is_correct",
    "mode_answers",
    "probe_set",
    "probes_from_rows",
    "score_completions",
    "token_completer",
]
