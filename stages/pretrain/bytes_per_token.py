"""How many UTF-8 bytes of text each token id stands for, so that losses convert to bits per byte.

A byte-level BPE writes every byte as one of 256 printable characters, so a token's byte count is
the length of its string; special (added) tokens stand for no text and count 0 bytes.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

from stages.common.errors import StageInputError


def token_byte_lengths(tokenizer: Tokenizer) -> np.ndarray:
    """int64 array [vocab]: the bytes of text each token decodes to (0 for special tokens)."""
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    special = set(tokenizer.get_added_tokens_decoder())
    vocab = tokenizer.get_vocab_size()
    lengths = np.zeros(vocab, dtype=np.int64)
    for token_id in range(vocab):
        if token_id in special:
            continue
        text = tokenizer.id_to_token(token_id)
        if text is None or not set(text) <= alphabet:
            raise StageInputError(f"tokenizer: token {token_id} ({text!r}) is not byte-level BPE; "
                                  "bits per byte need a byte-level tokenizer")
        lengths[token_id] = len(text)
    return lengths
