"""Document quality signals and filters in the style of Gopher (MassiveText), C4 and FineWeb.

One tokenisation (whitespace words, stripped non-empty lines, blank-line paragraphs) feeds every
signal. Signals are plain floats by name (stored with each kept document); rules compare one
signal with one threshold and are checked cheapest first, so the reason for a rejection is the
first rule that fired. A threshold set to null (None) disables its rule.

Thresholds default to the published values: Gopher, Rae et al. 2021, appendix A.1.1 (as
implemented by datatrove); C4, Raffel et al. 2020, section 2.2; FineWeb, Penedo et al. 2024
(datatrove's FineWebQualityFilter). Where a paper leaves a denominator open we say which we use.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from itertools import filterfalse
from typing import Iterator

import numpy as np
from pydantic import Field, field_validator, model_validator

from crisol.core.params import Section

# Gopher's English stop words: a page must contain at least `min_stop_words` distinct ones.
GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
# C4's terminal punctuation (datatrove's END_PUNCTUATION); FineWeb uses the same set.
TERMINAL_PUNCT = (".", "?", "!", '"', "'")
ELLIPSES = ("...", "…")
BULLETS = ("•", "-", "*", "‣", "◦", "▪", "·")
# C4 drops lines that talk about site policies rather than content.
C4_POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
C4_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_PUNCT = string.punctuation + "…«»“”‘’–—·•"
_PUNCT_SET = frozenset(_PUNCT)
_LETTER = re.compile(r"[^\W\d_]")  # a letter in any script

# Rough sentence ends for C4's minimum-sentences rule: a terminal mark then space or end.
_SENTENCE_END = re.compile(r"[.!?](?:[\"'”’)\]]*)(?=\s|$)")

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)


class QualityParams(Section):
    """Every threshold of every rule; null disables a rule. Defaults are the published values."""

    enabled: bool = True
    # --- Gopher quality rules (counted over words that are not pure punctuation)
    min_words: int | None = Field(50, ge=0)
    max_words: int | None = Field(100_000, ge=1)
    min_mean_word_len: float | None = Field(3.0, ge=0)
    max_mean_word_len: float | None = Field(10.0, ge=0)
    max_hash_word_ratio: float | None = Field(0.1, ge=0)  # '#' per word
    max_ellipsis_word_ratio: float | None = Field(0.1, ge=0)  # '...' or '…' per word
    max_bullet_lines_frac: float | None = Field(0.9, ge=0, le=1)
    max_ellipsis_lines_frac: float | None = Field(0.3, ge=0, le=1)
    min_alpha_words_frac: float | None = Field(0.8, ge=0, le=1)
    min_stop_words: int | None = Field(2, ge=0)  # English only
    stop_word_langs: list[str] = ["en"]
    # --- C4 document rules
    c4_lorem_ipsum: bool = True
    c4_curly_bracket: bool = True
    # C4's rule at document level as FineWeb applies it: share of lines ending in . ? ! " '
    min_terminal_punct_lines_frac: float | None = Field(0.12, ge=0, le=1)
    # C4's line-level cleaning (changes the text; off by default: it removes ~30% of tokens).
    c4_line_clean: bool = False
    c4_min_line_words: int = Field(3, ge=0)
    c4_max_word_len: int = Field(1000, ge=1)
    c4_min_sentences: int | None = Field(5, ge=0)  # only checked after line cleaning
    # --- FineWeb line rules
    max_short_lines_frac: float | None = Field(0.67, ge=0, le=1)
    short_line_chars: int = Field(30, ge=1)
    max_newline_word_ratio: float | None = Field(0.3, ge=0)
    max_dup_line_char_frac_fineweb: float | None = Field(0.01, ge=0, le=1)
    # --- Gopher repetition rules
    max_dup_line_frac: float | None = Field(0.3, ge=0, le=1)
    max_dup_para_frac: float | None = Field(0.3, ge=0, le=1)
    max_dup_line_char_frac: float | None = Field(0.2, ge=0, le=1)
    max_dup_para_char_frac: float | None = Field(0.2, ge=0, le=1)
    max_top_ngram_char_frac: dict[int, float] = {2: 0.20, 3: 0.18, 4: 0.16}
    max_dup_ngram_char_frac: dict[int, float] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}

    @field_validator("max_top_ngram_char_frac", "max_dup_ngram_char_frac")
    @classmethod
    def _known_sizes(cls, value: dict[int, float], info) -> dict[int, float]:
        sizes = TOP_NGRAM_SIZES if info.field_name == "max_top_ngram_char_frac" else DUP_NGRAM_SIZES
        for size, frac in value.items():
            if size not in sizes:
                raise ValueError(f"n-gram size {size} is not one of {sizes}")
            if not 0.0 <= frac <= 1.0:
                raise ValueError(f"fraction for n={size} must be in [0, 1], got {frac}")
        return value

    @model_validator(mode="after")
    def _ordered_bounds(self) -> "QualityParams":
        for low, high in (("min_words", "max_words"), ("min_mean_word_len", "max_mean_word_len")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) must not exceed {high} ({hi})")
        return self


@dataclass(frozen=True)
class _Tokens:
    """The one tokenisation every signal is computed from."""

    text: str
    words: list[str]  # whitespace-separated tokens, as written
    word_lengths: np.ndarray  # len() of each word (int64)
    lines: list[str]  # stripped, non-empty
    paragraphs: list[str]  # blank-line separated, stripped, non-empty


def _tokenise(text: str) -> _Tokens:
    lines = [s for s in (line.strip() for line in text.split("\n")) if s]
    paragraphs = [s for s in (p.strip() for p in text.split("\n\n")) if s]
    words = text.split()
    return _Tokens(text, words, np.fromiter(map(len, words), dtype=np.int64, count=len(words)), lines, paragraphs)


def _duplicates(items: list[str]) -> tuple[int, int, int]:
    """(repeated items, characters in repeated items, characters in all items).

    An item counts as repeated from its second occurrence on, as in Gopher."""
    seen: set[str] = set()
    dup_count = dup_chars = total_chars = 0
    for item in items:
        total_chars += len(item)
        if item in seen:
            dup_count += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_count, dup_chars, total_chars


def _basic_signals(tok: _Tokens, params: QualityParams) -> dict[str, float]:
    """Word, line and duplicated-line signals: linear, cheap, enough for most rejections."""
    text, words, lines = tok.text, tok.words, tok.lines
    n_tokens = len(words)
    # Tokens without a letter (numbers, "|", "..."): few, so the all-letters ones are skipped at
    # C speed (str.isalpha) and only the rest meet the regex.
    letterless = [w for w in filterfalse(str.isalpha, words) if not _LETTER.search(w)]
    # Gopher does not count pure punctuation tokens as words.
    punct_tokens = [t for t in letterless if _PUNCT_SET.issuperset(t)]
    n_words = n_tokens - len(punct_tokens)
    word_chars = int(tok.word_lengths.sum()) - sum(map(len, punct_tokens))
    lowered = text.lower()
    n_lines = len(lines) or 1
    # Gopher's symbol-to-word ratios: occurrences of the symbol per word.
    ellipses = text.count("...") + text.count("…")
    dup_lines, dup_line_chars, line_chars = _duplicates(lines)
    dup_paras, dup_para_chars, para_chars = _duplicates(tok.paragraphs)
    return {
        "n_words": float(n_words),
        "mean_word_len": word_chars / n_words if n_words else 0.0,
        "hash_word_ratio": text.count("#") / max(n_words, 1),
        "ellipsis_word_ratio": ellipses / max(n_words, 1),
        "bullet_lines_frac": sum(line.startswith(BULLETS) for line in lines) / n_lines,
        "ellipsis_lines_frac": sum(line.endswith(ELLIPSES) for line in lines) / n_lines,
        "alpha_words_frac": (n_tokens - len(letterless)) / n_tokens if n_tokens else 0.0,
        # Tokens as written (lower-cased), as datatrove does: "the," does not count.
        "stop_words": float(len(GOPHER_STOP_WORDS.intersection(map(str.lower, words)))),
        "lorem_ipsum": float("lorem ipsum" in lowered),
        "curly_bracket": float("{" in text),
        "terminal_punct_lines_frac": sum(line.endswith(TERMINAL_PUNCT) for line in lines) / n_lines,
        "short_lines_frac": sum(len(line) <= params.short_line_chars for line in lines) / n_lines,
        "newline_word_ratio": text.count("\n") / max(n_words, 1),
        "n_lines": float(len(lines)),
        "dup_line_frac": dup_lines / n_lines,
        "dup_line_char_frac": dup_line_chars / line_chars if line_chars else 0.0,
        "dup_para_frac": dup_paras / (len(tok.paragraphs) or 1),
        "dup_para_char_frac": dup_para_chars / para_chars if para_chars else 0.0,
        "sentences": float(len(_SENTENCE_END.findall(text))),
    }


# Odd 64-bit multiplier for the polynomial n-gram hash (wrap-around arithmetic is intended).
_NGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)


def _ngram_signals(words: list[str], lengths: np.ndarray) -> dict[str, float]:
    """Gopher's repetition signals over word n-grams, vectorised with numpy.

    Each word becomes its string hash (per process, as Python salts them); the n-gram at
    position i is a polynomial hash of its words, extended from the (n-1)-gram hashes, and a
    stable sort of the hashes gives counts and first occurrences. A 64-bit collision could at
    worst nudge a signal. The denominator is the characters in all words (whitespace excluded),
    the same unit as the numerators, so a page made of one repeated n-gram scores close to 1.
    Of several equally frequent n-grams the top one is the first to occur (as Counter.most_common
    picks in datatrove), so the signal does not depend on the hash salt.

    A page's n-grams rarely repeat beyond four or five words, so the arrays shrink fast and the
    cost is numpy's per-call overhead: each size takes as few calls as it can."""
    signals = {f"top_{k}gram_char_frac": 0.0 for k in TOP_NGRAM_SIZES}
    signals.update({f"dup_{k}gram_char_frac": 0.0 for k in DUP_NGRAM_SIZES})
    n = len(words)
    total = int(lengths.sum())
    if n < 2 or not total:
        return signals
    chars_before = np.zeros(n + 1, dtype=np.int64)  # characters of words[:i]
    np.cumsum(lengths, out=chars_before[1:])
    ids = np.fromiter(map(hash, words), dtype=np.int64, count=n).view(np.uint64)
    # Start positions of the n-grams still in play and their hashes, side by side. Only an
    # n-gram that occurs more than once can start a repeated (n+1)-gram (its first n words
    # repeat too), so each size keeps just the survivors of the last one.
    positions = np.arange(n - 1)
    hashes = ids[:-1] * _NGRAM_MULT + ids[1:]  # array arithmetic wraps silently
    for size in range(2, max(DUP_NGRAM_SIZES) + 1):
        if size > 2:
            room = positions <= n - size
            positions, hashes = positions[room], hashes[room]
            hashes = hashes * _NGRAM_MULT + ids[positions + (size - 1)]
        # A stable sort groups equal n-grams with their positions ascending (the survivors are
        # kept grouped, so they are in that order within each group): in each group the first
        # is the first occurrence, the others are repeats.
        order = hashes.argsort(kind="stable")
        ranked = hashes[order]
        m = len(ranked)
        starts_group = np.empty(m + 1, dtype=bool)  # [m] stands for the end of the last group
        starts_group[0] = starts_group[m] = True
        np.not_equal(ranked[1:], ranked[:-1], out=starts_group[1:m])
        starts = starts_group[:m].nonzero()[0]
        if len(starts) == m:
            break  # nothing repeats at this size, so nothing longer does: the rest stay 0
        if size in TOP_NGRAM_SIZES:
            # Share of characters taken by the most frequent n-gram (all its occurrences).
            runs = np.empty(len(starts), dtype=np.intp)
            runs[:-1] = starts[1:] - starts[:-1]
            runs[-1] = m - starts[-1]
            top = runs.max()
            at = int(positions[order[starts[runs == top]]].min())
            gram_chars = int(chars_before[at + size] - chars_before[at])
            signals[f"top_{size}gram_char_frac"] = gram_chars * int(top) / total
        if size in DUP_NGRAM_SIZES:
            # Characters of words inside a repeated occurrence (second and later ones), each
            # word counted once however many repeats overlap it.
            repeat = np.zeros(n, dtype=np.int64)
            repeat[positions[order[~starts_group[:m]]]] = 1
            # Repeats starting at or before j, minus those ending before j (numpy buffers the
            # overlapping operands of the in-place subtraction).
            in_window = repeat.cumsum()
            in_window[size:] -= in_window[:-size]
            signals[f"dup_{size}gram_char_frac"] = int(lengths[in_window > 0].sum()) / total
        # Members of groups of two or more (not both first and last of their group) go on.
        kept = order[~(starts_group[:m] & starts_group[1:])]
        positions, hashes = positions[kept], hashes[kept]
    return signals


def compute_signals(text: str, params: QualityParams | None = None) -> dict[str, float]:
    """All quality signals of `text`, by name."""
    params = params or QualityParams()
    tok = _tokenise(text)
    signals = _basic_signals(tok, params)
    signals.update(_ngram_signals(tok.words, tok.word_lengths))
    return signals


# (reason, signal, threshold attribute, "min" or "max"), cheapest first. The n-gram rules are
# generated from the params' dicts and appended by `_rules`.
_BASIC_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("gopher_min_words", "n_words", "min_words", "min"),
    ("gopher_max_words", "n_words", "max_words", "max"),
    ("gopher_min_mean_word_len", "mean_word_len", "min_mean_word_len", "min"),
    ("gopher_max_mean_word_len", "mean_word_len", "max_mean_word_len", "max"),
    ("gopher_hash_ratio", "hash_word_ratio", "max_hash_word_ratio", "max"),
    ("gopher_ellipsis_ratio", "ellipsis_word_ratio", "max_ellipsis_word_ratio", "max"),
    ("gopher_bullet_lines", "bullet_lines_frac", "max_bullet_lines_frac", "max"),
    ("gopher_ellipsis_lines", "ellipsis_lines_frac", "max_ellipsis_lines_frac", "max"),
    ("gopher_alpha_words", "alpha_words_frac", "min_alpha_words_frac", "min"),
    ("gopher_stop_words", "stop_words", "min_stop_words", "min"),
    ("c4_lorem_ipsum", "lorem_ipsum", "c4_lorem_ipsum", "flag"),
    ("c4_curly_bracket", "curly_bracket", "c4_curly_bracket", "flag"),
    ("c4_terminal_punct", "terminal_punct_lines_frac", "min_terminal_punct_lines_frac", "min"),
    ("fineweb_short_lines", "short_lines_frac", "max_short_lines_frac", "max"),
    ("fineweb_newline_ratio", "newline_word_ratio", "max_newline_word_ratio", "max"),
    ("gopher_dup_line_frac", "dup_line_frac", "max_dup_line_frac", "max"),
    ("gopher_dup_para_frac", "dup_para_frac", "max_dup_para_frac", "max"),
    ("gopher_dup_line_char_frac", "dup_line_char_frac", "max_dup_line_char_frac", "max"),
    ("gopher_dup_para_char_frac", "dup_para_char_frac", "max_dup_para_char_frac", "max"),
    ("fineweb_dup_line_char_frac", "dup_line_char_frac", "max_dup_line_char_frac_fineweb", "max"),
)


def _fails(value: float, threshold, kind: str) -> bool:
    if kind == "flag":
        return bool(threshold) and value > 0
    if threshold is None:
        return False
    return value < threshold if kind == "min" else value > threshold


def failures(signals: dict[str, float], lang: str | None, params: QualityParams) -> Iterator[str]:
    """Every rule `signals` fail, cheapest first (reasons like "gopher_min_words")."""
    if not params.enabled:
        return
    for reason, signal, attr, kind in _BASIC_RULES:
        if attr == "min_stop_words" and lang not in params.stop_word_langs:
            continue  # Gopher's stop words are English
        if _fails(signals[signal], getattr(params, attr), kind):
            yield reason
    # C4 counts sentences on the cleaned text only; on raw text a list page has few "sentences".
    if params.c4_line_clean and _fails(signals["sentences"], params.c4_min_sentences, "min"):
        yield "c4_min_sentences"
    for size, threshold in sorted(params.max_top_ngram_char_frac.items()):
        if signals.get(f"top_{size}gram_char_frac", 0.0) > threshold:
            yield f"gopher_top_{size}gram"
    for size, threshold in sorted(params.max_dup_ngram_char_frac.items()):
        if signals.get(f"dup_{size}gram_char_frac", 0.0) > threshold:
            yield f"gopher_dup_{size}gram"


def first_failure(signals: dict[str, float], lang: str | None, params: QualityParams) -> str | None:
    """The first rule (cheapest first) that `signals` fail, or None when the text passes."""
    return next(failures(signals, lang, params), None)


def c4_clean_lines(text: str, params: QualityParams) -> tuple[str, int]:
    """C4's line-level cleaning: keep lines that end in terminal punctuation (not an ellipsis),
    have at least `c4_min_line_words` words, no over-long word, and do not mention javascript or
    site policies; citation markers like [1] or [edit] are removed. Returns (text, lines dropped)."""
    kept: list[str] = []
    dropped = 0
    for raw in text.split("\n"):
        line = C4_CITATION.sub("", raw).strip()
        if not line:
            continue
        words = line.split()
        lowered = line.lower()
        if (
            not line.endswith(TERMINAL_PUNCT)
            or line.endswith(ELLIPSES)
            or len(words) < params.c4_min_line_words
            or any(len(w) > params.c4_max_word_len for w in words)
            or "javascript" in lowered
            or any(p in lowered for p in C4_POLICY_PHRASES)
        ):
            dropped += 1
            continue
        kept.append(line)
    return "\n".join(kept), dropped


@dataclass(frozen=True)
class Assessment:
    text: str  # the text to keep (changed only by C4 line cleaning)
    signals: dict[str, float]
    reason: str | None  # first failed rule, None when kept
    lines_dropped: int = 0  # by C4 line cleaning
    n_tokens: int = 0  # whitespace-separated tokens of `text` (len(text.split()))


def assess(text: str, lang: str | None, params: QualityParams) -> Assessment:
    """Clean (if configured), compute signals and find the first failed rule.

    Staged: the cheap signals are checked before the n-gram ones are computed, so a page that
    fails early (most rejected pages do) never pays for the repetition analysis. A rejected
    page's signals are therefore partial; a kept page carries all of them."""
    dropped = 0
    if params.enabled and params.c4_line_clean:
        text, dropped = c4_clean_lines(text, params)
    tok = _tokenise(text)
    signals = _basic_signals(tok, params)
    reason = first_failure(signals, lang, params)
    if reason is None:
        signals.update(_ngram_signals(tok.words, tok.word_lengths))
        reason = first_failure(signals, lang, params)
    return Assessment(text, signals, reason, dropped, len(tok.words))
