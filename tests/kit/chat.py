"""Shared by the chat and SFT tests: a small fitted tokenizer with the reserved chat tokens."""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer

from kit.tokenizer import corpus_text
from stages.tokenizer.bpe import fit
from stages.tokenizer.params import TokenizerParams

PARAMS = TokenizerParams(vocab_size=400)


@lru_cache(maxsize=1)
def _fitted_json() -> str:
    return fit(corpus_text(), PARAMS).to_str()


def small_tokenizer() -> Tokenizer:
    """A fresh copy each call, so a test that changes it cannot leak into another."""
    return Tokenizer.from_str(_fitted_json())
