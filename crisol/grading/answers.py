"""Asking a model questions and grading its replies by exact match: SFT's held-out test, and every
model's question answering in evaluation.

Two ways to ask:
- chat: the chat template's generation prompt (the conversation without its last, gold,
  assistant turn), greedy decoding until `<|end|>` or `<|eos|>`: how SFT models are asked.
- few-shot: plain text for a base model, after the `<|eos|>` that ends every pretraining
  document: each shot a question line and its answer line, then the question line; the reply is
  the generated text up to its first newline (lm-evaluation-harness's convention for generative
  QA). The layout is that of the crawled FAQ pages, the only question-and-answer text a base model
  of this pipeline has read: measured on the tiny profile, lm-eval's `Question: ...\nAnswer:`
  made it continue with unrelated prose (0% exact match, 1.6% contains), a format it never saw.

Grading is crisol/grading/text.py's (SQuAD normalisation, exact match and contains), each figure
with its standard error.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example
from crisol.grading.text import contains, exact_match, f1, mean_and_stderr, normalize
from crisol.model.sampling import Reply, generate_many
from crisol.model.transformer import Transformer

# How a reading (open-book) question is asked: SFT trains on this wording, evaluation asks with it.
READING_PROMPT = "Read the passage and answer the question.\n\nPassage: {passage}\n\nQuestion: {question}"


def generate_chat_replies(
    model: Transformer,
    template: ChatTemplate,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    seed: int | None = None,
) -> list[Reply]:
    """The model's replies to chat generation prompts, each ended by the template's end of turn (or
    of text), or by the budget: greedy at temperature 0, sampled from `seed` above it."""
    return generate_many(
        model,
        prompts,
        max_new_tokens,
        temperature=temperature,
        stop_ids=template.stop_ids,
        pad_id=template.pad_id,
        seed=seed,
    )


@torch.no_grad()
def chat_replies(
    model: Transformer, template: ChatTemplate, examples: Sequence[Example], max_new_tokens: int
) -> list[str]:
    """The model's reply to each example's conversation minus its last (gold) assistant turn."""
    was_training = model.training
    model.eval()
    prompts = [template.generation_prompt(e.messages[:-1]) for e in examples]
    generated = generate_chat_replies(model, template, prompts, max_new_tokens)
    model.train(was_training)
    return [template.reply(reply.tokens) for reply in generated]


def few_shot_prompt(question: str, shots: Sequence[tuple[str, str]]) -> str:
    solved = "".join(f"{q}\n{a}\n" for q, a in shots)
    return f"{solved}{question}\n"


@torch.no_grad()
def few_shot_replies(
    model: Transformer,
    template: ChatTemplate,
    questions: Sequence[str],
    shots: Sequence[tuple[str, str]],
    max_new_tokens: int,
) -> tuple[list[str], int]:
    """A base model's answers to plain-text few-shot prompts, and the number of shots that fit.

    Shots are dropped from the front until the longest prompt leaves room for the answer."""
    was_training = model.training
    model.eval()
    shots = list(shots)
    while True:
        prompts = [[template.eos_id, *template.encode_text(few_shot_prompt(q, shots))] for q in questions]
        if not shots or max(len(p) for p in prompts) + max_new_tokens <= model.config.max_seq_len:
            break
        shots = shots[1:]
    generated = generate_many(
        model, prompts, max_new_tokens, temperature=0.0, stop_ids=(template.eos_id,), pad_id=template.pad_id
    )
    model.train(was_training)
    replies = [template.text_tokenizer.decode(reply.tokens).split("\n", 1)[0].strip() for reply in generated]
    return replies, len(shots)


@dataclass(frozen=True)
class Graded:
    example: Example
    reply: str
    exact: bool
    contained: bool
    f1: float

    def to_row(self) -> dict[str, Any]:
        e = self.example
        return {
            "id": e.id,
            "kind": e.kind,
            "relation": e.relation,
            "question": e.messages[-2]["content"],
            "gold": e.answer,
            "reply": self.reply,
            "exact_match": self.exact,
            "f1": round(self.f1, 5),
            "contains": self.contained,
        }


def grade(examples: Sequence[Example], replies: Sequence[str]) -> list[Graded]:
    return [
        Graded(e, r, exact_match(r, e.answer), contains(r, e.answer), f1(r, e.answer))
        for e, r in zip(examples, replies)
    ]


def _figures(graded: Sequence[Graded]) -> dict[str, Any]:
    """Means and standard errors, rounded; None where undefined (JSON has no NaN)."""
    em, em_err = mean_and_stderr([float(g.exact) for g in graded])
    f, f_err = mean_and_stderr([g.f1 for g in graded])
    within, within_err = mean_and_stderr([float(g.contained) for g in graded])
    clean = lambda x: None if math.isnan(x) else round(x, 5)  # noqa: E731
    return {
        "exact_match": clean(em),
        "exact_match_stderr": clean(em_err),
        "f1": clean(f),
        "f1_stderr": clean(f_err),
        "contains": clean(within),
        "contains_stderr": clean(within_err),
        "n": len(graded),
    }


def summarize(graded: Sequence[Graded]) -> dict[str, Any]:
    """Exact match (and contains) overall, per kind, and per relation of the fact questions."""
    by_kind: dict[str, list[Graded]] = defaultdict(list)
    by_relation: dict[str, list[Graded]] = defaultdict(list)
    for g in graded:
        by_kind[g.example.kind].append(g)
        if g.example.kind == "fact" and g.example.relation:
            by_relation[g.example.relation].append(g)
    return {
        "all": _figures(graded),
        "by_kind": {k: _figures(v) for k, v in sorted(by_kind.items())},
        "fact_by_relation": {r: _figures(v) for r, v in sorted(by_relation.items())},
    }


def chance_exact_match(questions: Sequence[Example], universe: Sequence[Example]) -> float | None:
    """Exact match of a guesser who knows each question's relation and picks one of the answers that
    relation has anywhere in the data uniformly: the floor a model that learned nothing sits at."""
    answers: dict[str | None, set[str]] = defaultdict(set)
    for e in universe:
        answers[e.relation].add(normalize(e.answer))
    if not questions:
        return None
    return round(sum(1.0 / len(answers[q.relation]) for q in questions) / len(questions), 5)
