"""Question answering and hallucination, asked of every model the way it is meant to be asked.

The questions are SFT's examples (data/sft/examples.parquet), never trained on by any model:
- closed book: the test split's fact and two-step questions, about entities SFT held out (their
  facts were on pages pretraining read);
- open book: validation reading questions, the passage in the prompt;
- hallucination: the test split's questions about invented entities; the right answer is
  "I don't know.", any other reply is a confident invention.

A base model gets plain-text prompts zero-shot and k-shot (shots from SFT's training examples of
the same task, crisol/grading/answers.py's FAQ layout); chat models get the chat template, greedy.
Figures: exact match, F1 (SQuAD) and contains, each with its standard error, and the chance floor
of exact match (a guesser who knows the relation).

A user's QA files (qa_files.py) are question sets too, with several acceptable answers per
question (`answers`): a reply is graded against each and keeps the best, as SQuAD grades.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from crisol.chat.template import ChatTemplate
from crisol.core.hashsplit import TEST, TRAIN, VALIDATION
from crisol.formats.conversations import Example
from crisol.grading.answers import Graded, chance_exact_match, chat_replies, few_shot_replies, grade, summarize
from crisol.grading.oracle import is_idk
from crisol.grading.text import contains, exact_match, f1, mean_and_stderr
from crisol.model.transformer import Transformer

CLOSED_BOOK_KINDS = ("fact", "two_hop")


@dataclass(frozen=True)
class QuestionSet:
    task: str  # closed_book | open_book | hallucination
    questions: list[Example]
    shots: list[tuple[str, str]]  # (question, answer) for the base model's k-shot prompts
    chance: float | None  # exact match of a guesser who knows the relation
    answers: Mapping[str, Sequence[str]] | None = None  # example id -> acceptable answers (None: its answer)


def question_sets(examples: Sequence[Example], open_book_items: int, few_shot: int, seed: int) -> list[QuestionSet]:
    rng = random.Random(seed)
    train = [e for e in examples if e.split == TRAIN]

    def shots(kinds: tuple[str, ...]) -> list[tuple[str, str]]:
        pool = [e for e in train if e.kind in kinds]
        return [(e.messages[-2]["content"], e.answer) for e in rng.sample(pool, min(few_shot, len(pool)))]

    closed = [e for e in examples if e.split == TEST and e.kind in CLOSED_BOOK_KINDS]
    invented = [e for e in examples if e.split == TEST and e.kind == "idk"]
    reading = [e for e in examples if e.split == VALIDATION and e.kind == "reading"][:open_book_items]
    universe = [e for e in examples if e.kind in CLOSED_BOOK_KINDS]
    sets = [
        QuestionSet("closed_book", closed, shots(("fact", "two_hop", "idk")), chance_exact_match(closed, universe)),
        QuestionSet("open_book", reading, shots(("reading",)), None),
        QuestionSet("hallucination", invented, shots(("fact", "idk")), None),
    ]
    return [s for s in sets if s.questions]


def ask(
    model: Transformer, template: ChatTemplate, chat: bool, qs: QuestionSet, max_new_tokens: int, shots: int
) -> list[Graded]:
    """Greedy replies graded against the gold answers: through the chat template for a chat
    model, else plain text with the first `shots` shots (0: zero-shot)."""
    if chat:
        replies = chat_replies(model, template, qs.questions, max_new_tokens)
    else:
        replies, _ = few_shot_replies(
            model, template, [e.messages[-2]["content"] for e in qs.questions], qs.shots[:shots], max_new_tokens
        )
    return grade(qs.questions, replies) if qs.answers is None else grade_any(qs.questions, replies, qs.answers)


def grade_any(
    examples: Sequence[Example], replies: Sequence[str], answers: Mapping[str, Sequence[str]]
) -> list[Graded]:
    """Each reply graded against every acceptable answer of its question, the best kept per figure."""
    out = []
    for e, r in zip(examples, replies):
        golds = answers.get(e.id) or [e.answer]
        out.append(
            Graded(
                e,
                r,
                any(exact_match(r, a) for a in golds),
                any(contains(r, a) for a in golds),
                max(f1(r, a) for a in golds),
            )
        )
    return out


def figures(qs: QuestionSet, graded: Sequence[Graded]) -> dict[str, Any]:
    """The task's headline figures: EM, F1, contains (hallucination: the share of confident
    answers and of "I don't know"), each with its standard error and the item count."""
    if qs.task == "hallucination":
        invented = [0.0 if is_idk(g.reply) else 1.0 for g in graded]
        rate, rate_err = mean_and_stderr(invented)
        return {
            "hallucination_rate": rate,
            "hallucination_rate_stderr": rate_err,
            "idk_rate": 1.0 - rate,
            "idk_rate_stderr": rate_err,
            "n": len(graded),
        }
    summary = summarize(graded)
    out = dict(summary["all"])
    if qs.chance is not None:
        out["chance_exact_match"] = qs.chance
    if qs.task == "closed_book":
        out["by_kind"] = summary["by_kind"]
    return out
