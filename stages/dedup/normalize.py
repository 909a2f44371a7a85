"""Text normalisation and tokenisation, shared by the exact hash and the shingles.

The normalised text of a document is its sequence of tokens: Unicode-normalised (NFKC folds
full-width forms, ligatures and compatibility characters), lower-cased, with punctuation and
symbols removed and whitespace ignored. Two documents are exact duplicates when their token
sequences are equal.

Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar,
Tibetan) would otherwise give one "word" per sentence, and word n-grams of those would make every
small edit a new shingle; there every character is a token, so word n-grams become character
n-grams. Tokenising runs in polars (Rust regex, one pass) because a Python loop over words is the
slowest part of MinHash dedup (see the field notes: 348 docs/s with per-shingle `update`).
"""

from __future__ import annotations

import unicodedata
from typing import Sequence

import polars as pl

NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
# One character of a no-space script, or a run of other word characters (or of non-space
# characters, when punctuation is kept).
WORD_TOKENS = rf"[{NO_SPACE_SCRIPTS}]|[\w--[{NO_SPACE_SCRIPTS}]]+"
SPACED_TOKENS = rf"[{NO_SPACE_SCRIPTS}]|[^\s{NO_SPACE_SCRIPTS}]+"


def unicode_normalise(texts: Sequence[str], form: str) -> list[str]:
    """NFKC/NFC in Python: CPython's quick check makes ASCII and already-normal text nearly free,
    where polars' `str.normalize` rewrites every string (measured 80x slower on English text)."""
    if form == "none":
        return list(texts)
    return [unicodedata.normalize(form, text) for text in texts]


def tokenise(
    texts: Sequence[str], unicode_form: str = "NFKC", lowercase: bool = True, strip_punctuation: bool = True
) -> pl.Series:
    """One list of tokens per text (an empty list for a text with no word characters)."""
    series = pl.Series("text", unicode_normalise(texts, unicode_form), dtype=pl.String)
    if lowercase:
        series = series.str.to_lowercase()
    pattern = WORD_TOKENS if strip_punctuation else SPACED_TOKENS
    return series.str.extract_all(pattern).fill_null([]).alias("tokens")


def normalised_text(tokens: pl.Series) -> pl.Series:
    """The normalised text itself: tokens joined by single spaces (for character shingles)."""
    return tokens.list.join(" ")
