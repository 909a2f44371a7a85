"""What the evaluate stage scores every model on: the suite, built for the run's data source.

- synthetic (the world): held-out documents, completion choice from them, the HellaSwag-format
  files, the world's closed-book, open-book and invented-entity questions (SFT's test and
  validation splits), alignment on the test split's questions with the gold oracle;
- own (a user's data): own_suite.py; no part that reads the world runs, each says why (`parts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from crisol.core.errors import StageInputError
from crisol.core.hashsplit import TEST
from crisol.formats.conversations import Example
from crisol.formats.row_files import SUFFIXES
from stages.evaluate import questions
from stages.evaluate.heldout import Document, completion_items, heldout_documents
from stages.evaluate.hellaswag import Item, read_hellaswag
from stages.evaluate.params import EvaluateParams
from stages.evaluate.preferences import HeldoutPair
from stages.evaluate.unigram import Unigram

ALIGNMENT_KINDS = ("fact", "two_hop", "idk")


@dataclass
class Suite:
    documents: list[Document]
    multiple_choice: dict[str, list[Item]]  # task -> items
    qsets: list[questions.QuestionSet]
    aligned: list[Example]  # prompts for the alignment figures
    gold: bool = True  # alignment judged by the gold oracle
    skipped: dict[str, str] = field(default_factory=dict)  # what was not scored, and why
    # own only: every section with ran / n / why (the metrics' `parts`), the unigram baseline, the
    # held-out documents' origin (doc id -> where it came from), the reward model's held-out pairs
    parts: dict[str, dict[str, Any]] | None = None
    unigram: Unigram | None = None
    origins: dict[str, str] = field(default_factory=dict)
    preference_pairs: list[HeldoutPair] | None = None


def task_name(path: Path) -> str:
    """A multiple-choice or QA file's task name: folder and name without the type, as identifiers."""
    stem = next(
        (path.name.removesuffix(s) for s in sorted(SUFFIXES, key=len, reverse=True) if path.name.endswith(s)), path.name
    )
    return f"{path.parent.name}_{stem}".replace("-", "_").replace(".", "_")


def unique(name: str, taken: Sequence[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def multiple_choice_files(
    paths: Sequence[Path], limit: int, log: logging.Logger, taken: Sequence[str] = ()
) -> tuple[dict[str, list[Item]], dict[str, str]]:
    """The first `limit` items of every HellaSwag-format file that exists (a missing one is skipped
    with its reason; bad rows are counted by the reader, logged and reported)."""
    tasks: dict[str, list[Item]] = {}
    skipped: dict[str, str] = {}
    for path in paths:
        name = unique(task_name(path), [*taken, *tasks])
        if not path.is_file():
            skipped[name] = f"{path} not found"
            log.warning("evaluate: %s skipped: %s not found", name, path)
            continue
        data = read_hellaswag(path)
        if data.skipped:
            log.warning("evaluate: %s: skipped rows %s (at %s)", path, dict(data.skipped), dict(data.where))
            skipped[f"{name} rows"] = ", ".join(f"{reason} {count}" for reason, count in data.skipped.items())
        tasks[name] = data.items[:limit]
    return tasks, skipped


def synthetic_suite(params: EvaluateParams, examples: Sequence[Example], log: logging.Logger) -> Suite:
    """The world's suite (unchanged by the own-data path: same items, same order, same seeds)."""
    documents = heldout_documents(params.validation_tokens, params.documents, params.heldout_documents)
    completion = completion_items(
        documents, params.completion_items, params.completion_choices, params.completion_context_chars, params.seed
    )
    if not completion:
        raise StageInputError(f"evaluate: no completion-choice item from {len(documents)} held-out documents")
    files, skipped = multiple_choice_files(
        params.multiple_choice_files, params.multiple_choice_items, log, taken=["completion_choice"]
    )
    qsets = questions.question_sets(examples, params.open_book_items, params.few_shot, params.seed)
    aligned = [e for e in examples if e.split == TEST and e.kind in ALIGNMENT_KINDS]
    return Suite(documents, {"completion_choice": completion, **files}, qsets, aligned, skipped=skipped)
