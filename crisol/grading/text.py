"""Grading a reply against a gold answer, the way SQuAD and lm-evaluation-harness do.

`final_answer`: a reply that reasons before it answers ("Born in Lima, so the answer is Peru.") is
graded on what follows its last "the answer is" (lm-evaluation-harness's chain-of-thought filter for
GSM8K); a reply without the phrase is graded whole. Every grader below reads replies through it.
`normalize`: lower case, punctuation and the articles a/an/the removed, whitespace collapsed.
`exact_match` compares normalised strings; `f1` is SQuAD's token F1 (the harmonic mean of the
shared normalised words' precision and recall, counted with multiplicity); `contains` asks whether
the normalised gold answer occurs in the reply as whole words (a lenient figure for replies that
answer in a sentence).
`mean_and_stderr`: a mean of 0/1 (or any) scores with its standard error, sqrt(var/n) with the
sample variance, as lm-evaluation-harness reports it.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Sequence

_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u2019\u2018")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
ANSWER_LEAD = "so the answer is"  # how a reasoned reply introduces its answer (SFT's two-step examples)
_LEAD = re.compile(r"\bthe answer is\b", re.IGNORECASE)


def final_answer(reply: str) -> str:
    """What follows the last "the answer is" in `reply`, or all of it when the phrase is absent."""
    leads = list(_LEAD.finditer(reply))
    return reply[leads[-1].end() :] if leads else reply


def normalize(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(reply: str, gold: str) -> bool:
    return normalize(final_answer(reply)) == normalize(gold)


def f1(reply: str, gold: str) -> float:
    """SQuAD's token F1; 1.0 when both normalise to nothing, 0.0 when only one does."""
    predicted, truth = normalize(final_answer(reply)).split(), normalize(gold).split()
    if not predicted or not truth:
        return float(predicted == truth)
    shared = sum((Counter(predicted) & Counter(truth)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(truth)
    return 2 * precision * recall / (precision + recall)


def contains(reply: str, gold: str) -> bool:
    return f" {normalize(gold)} " in f" {normalize(final_answer(reply))} "


def mean_and_stderr(scores: Sequence[float]) -> tuple[float, float]:
    n = len(scores)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(scores) / n
    if n == 1:
        return mean, float("nan")
    variance = sum((s - mean) ** 2 for s in scores) / (n - 1)
    return mean, math.sqrt(variance / n)
