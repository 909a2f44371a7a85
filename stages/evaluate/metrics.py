"""lm-evaluation-harness's formulas, so our figures can be put beside published ones.

Perplexity (a corpus of documents scored with `loglikelihood_rolling`), corpus-level as lm-eval
aggregates it (`weighted_perplexity`, `bits_per_byte`): the log-likelihoods are summed over all
documents first and divided by the summed units, so a long document weighs more than a short
one. Per token is ours (lm-eval has no tokenizer-independent reason to report it, but it is the
training loss's scale); per word and per byte compare across tokenizers. Words are counted as
lm-eval's PerplexityTask counts them: `len(re.split(r"\\s+", doc))` (so a leading or trailing
space adds an empty "word", exactly as there). lm-eval reports no standard error for these
corpus-level figures; each comes with its document count instead.

Multiple choice (ConfigurableTask.process_results, output_type multiple_choice): acc is the argmax
of the choices' log-likelihoods; acc_norm divides each by the length in characters of the choice
string, acc_bytes by its UTF-8 bytes. The choice string is the one in the task's choices, without
the target delimiter (" ") that is scored in front of it: lm-eval takes `len(choice)` of
doc_to_choice(doc), not of the continuation. Ties go to the first choice (numpy's argmax), and the
division is in float64 as there, so predictions agree exactly. Means come with
crisol/grading/text.py's `mean_and_stderr` (lm-eval's `mean_stderr`: sqrt(sample variance / n)).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from crisol.grading.text import mean_and_stderr

_WHITESPACE = re.compile(r"\s+")


def count_words(text: str) -> int:
    return len(_WHITESPACE.split(text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Perplexity:
    documents: int
    loglikelihood: float  # summed over documents
    tokens: int
    words: int
    bytes: int
    token_perplexity: float  # exp(-LL / tokens)
    word_perplexity: float  # exp(-LL / words)
    byte_perplexity: float  # exp(-LL / bytes)
    bits_per_byte: float  # -LL / (bytes ln 2)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _exp(x: float) -> float:
    # A random model on a tiny corpus can overflow exp; inf is the honest figure, not a crash.
    try:
        return math.exp(x)
    except OverflowError:
        return float("inf")


def perplexity(
    loglikelihoods: Sequence[float], tokens: Sequence[int], words: Sequence[int], bytes_: Sequence[int]
) -> Perplexity:
    """Corpus-level figures from per-document sums (one entry per document in each sequence)."""
    if not len(loglikelihoods) == len(tokens) == len(words) == len(bytes_):
        raise ValueError("perplexity: one log-likelihood, token, word and byte count per document")
    ll, n_tokens, n_words, n_bytes = float(sum(loglikelihoods)), int(sum(tokens)), int(sum(words)), int(sum(bytes_))
    nan = float("nan")
    return Perplexity(
        documents=len(loglikelihoods),
        loglikelihood=ll,
        tokens=n_tokens,
        words=n_words,
        bytes=n_bytes,
        token_perplexity=_exp(-ll / n_tokens) if n_tokens else nan,
        word_perplexity=_exp(-ll / n_words) if n_words else nan,
        byte_perplexity=_exp(-ll / n_bytes) if n_bytes else nan,
        bits_per_byte=-ll / (n_bytes * math.log(2)) if n_bytes else nan,
    )


def text_perplexity(texts: Sequence[str], loglikelihoods: Sequence[float], tokens: Sequence[int]) -> Perplexity:
    """`perplexity` with words and bytes counted from the documents' text, lm-eval's way."""
    return perplexity(loglikelihoods, tokens, [count_words(t) for t in texts], [count_bytes(t) for t in texts])


@dataclass(frozen=True)
class Choice:
    """One multiple-choice item's outcome."""

    pred: int  # argmax LL
    pred_norm: int  # argmax LL / characters of the choice
    pred_bytes: int  # argmax LL / UTF-8 bytes of the choice
    acc: float
    acc_norm: float
    acc_bytes: float


def multiple_choice(loglikelihoods: Sequence[float], choices: Sequence[str], gold: int) -> Choice:
    """acc, acc_norm and acc_bytes of one item (lengths of the choices without the delimiter)."""
    if len(loglikelihoods) != len(choices) or not choices:
        raise ValueError(f"multiple choice: {len(loglikelihoods)} log-likelihoods for {len(choices)} choices")
    if not 0 <= gold < len(choices):
        raise ValueError(f"multiple choice: gold {gold} is not one of {len(choices)} choices")
    if any(not c for c in choices):
        raise ValueError("multiple choice: an empty choice has no length to normalise by")
    lls = np.asarray(loglikelihoods, dtype=np.float64)
    pred = int(np.argmax(lls))
    pred_norm = int(np.argmax(lls / np.array([float(len(c)) for c in choices])))
    pred_bytes = int(np.argmax(lls / np.array([float(count_bytes(c)) for c in choices])))
    return Choice(pred, pred_norm, pred_bytes, float(pred == gold), float(pred_norm == gold), float(pred_bytes == gold))


def random_baseline(choice_counts: Sequence[int]) -> float:
    """The expected accuracy of guessing: the mean over items of 1 / number of choices."""
    if not choice_counts:
        return float("nan")
    return sum(1.0 / n for n in choice_counts) / len(choice_counts)


MC_METRICS = ("acc", "acc_norm", "acc_bytes")


def mc_aggregate(outcomes: Sequence[Choice], choice_counts: Sequence[int]) -> dict[str, float | int]:
    """Each of acc, acc_norm, acc_bytes with its `<name>_stderr`, the item count `n` and the
    `random_baseline`. NaN where undefined (no item; a stderr of one item)."""
    out: dict[str, float | int] = {}
    for name in MC_METRICS:
        mean, stderr = mean_and_stderr([getattr(o, name) for o in outcomes])
        out[name], out[f"{name}_stderr"] = mean, stderr
    out["n"] = len(outcomes)
    out["random_baseline"] = random_baseline(choice_counts)
    return out
