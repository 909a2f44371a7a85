"""A user's question-answering files (own.root/eval/, source: own): JSONL (or .jsonl.gz, .json,
Parquet) rows

    {"question": "Who wrote Hamlet?", "answers": ["William Shakespeare", "Shakespeare"]}
    {"question": "...", "answers": ["..."], "context": "a passage that holds the answer"}

A row with a context is asked open book, in SFT's reading-comprehension wording (the passage in
the prompt); one without, closed book. A reply is graded against each acceptable answer and keeps
the best (SQuAD's rule): exact match, F1 and contains. Chat models are asked through their chat
template, the base model as the world's questions are (questions.py): zero-shot and k-shot, the
shots drawn (seeded) from the same file and then left out of the questions, so every model answers
the same n questions. Bad rows are skipped and counted by reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisol.core.hashsplit import TEST
from crisol.formats.conversations import Example, qa
from crisol.formats.row_files import READ_REASONS, RowError, RowLedger, convert_rows
from crisol.grading.answers import READING_PROMPT
from stages.evaluate.questions import QuestionSet

FORMAT = "qa"
SKIP_REASONS = (*READ_REASONS, "not_an_object", "empty_question", "no_answers", "bad_context")
CLOSED_BOOK, OPEN_BOOK = "closed_book", "open_book"


@dataclass(frozen=True)
class Row:
    question: str
    answers: tuple[str, ...]
    context: str | None


def to_row(row: Any, _: str) -> Row:
    """One row as a Row, or a RowError naming the reason it cannot be used."""
    if not isinstance(row, dict):
        raise RowError("not_an_object", f"a row is a JSON object, got {type(row).__name__}")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise RowError("empty_question", "question is absent, not a string or blank")
    answers = row.get("answers")
    if not isinstance(answers, list) or not answers or any(not isinstance(a, str) or not a.strip() for a in answers):
        raise RowError("no_answers", "answers must be a non-empty list of non-empty strings")
    context = row.get("context")
    if context is not None and (not isinstance(context, str) or not context.strip()):
        raise RowError("bad_context", "context, when given, must be a non-empty string")
    return Row(question.strip(), tuple(a.strip() for a in answers), context.strip() if context else None)


@dataclass
class QAFile(RowLedger):
    """A file's questions as examples (split test, kind closed_book or open_book) and each one's
    acceptable answers by example id; the rows skipped by reason."""

    reasons: tuple[str, ...] = SKIP_REASONS
    examples: list[Example] = field(default_factory=list)
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return super().summary(kept=len(self.examples))


def read_qa(path: Path, keep: int = 5) -> QAFile:
    """Every usable row of one QA file. A file with no usable row is a StageInputError."""
    data = QAFile()
    for _, number, row in convert_rows(
        [path], FORMAT, lambda p: FORMAT, to_row, data, keep, label="evaluate: QA", noun="question"
    ):
        prompt = (
            row.question if row.context is None else READING_PROMPT.format(passage=row.context, question=row.question)
        )
        example = qa(
            f"qa:{path.name}:{number}",
            OPEN_BOOK if row.context else CLOSED_BOOK,
            TEST,
            prompt,
            row.answers[0],
            source=f"{path}:{number}",
        )
        data.examples.append(example)
        data.answers[example.id] = row.answers
    return data


def question_set(task: str, data: QAFile, few_shot: int, limit: int, seed: int) -> QuestionSet:
    """Up to `limit` questions (the first ones), after `few_shot` seeded shots are taken out of them
    (none when the file has too few rows to spare them)."""
    examples = list(data.examples)
    shots: list[Example] = []
    if few_shot and len(examples) > few_shot:
        picked = set(random.Random(seed).sample(range(len(examples)), few_shot))
        shots = [e for i, e in enumerate(examples) if i in picked]
        examples = [e for i, e in enumerate(examples) if i not in picked]
    return QuestionSet(
        task, examples[:limit], [(e.messages[-2]["content"], e.answer) for e in shots], None, answers=data.answers
    )
