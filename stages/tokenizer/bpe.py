"""The byte-level BPE itself: built from params, fitted with `tokenizers`, loaded back.

Pre-tokenisation splits text with a regex (GPT-4's by default), then maps every byte to one of 256
printable characters (GPT-2's byte-level trick), so any string, in any script, is encodable and
decodes back to itself: there is no unknown token. Special tokens take the first ids, in the
order of SpecialTokens.tokens().
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from stages.tokenizer.params import TokenizerParams


def new_tokenizer(params: TokenizerParams) -> Tokenizer:
    """An empty byte-level BPE with the configured normalisation and split pattern."""
    tokenizer = Tokenizer(models.BPE())
    if params.normalization != "none":
        tokenizer.normalizer = getattr(normalizers, params.normalization)()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(params.split_regex()), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def fit(texts: Iterable[str], params: TokenizerParams, length: int | None = None) -> Tokenizer:
    """Fit the BPE on `texts`. Deterministic: the same texts in the same order give the same file."""
    tokenizer = new_tokenizer(params)
    trainer = trainers.BpeTrainer(
        vocab_size=params.vocab_size,
        min_frequency=params.min_frequency,
        special_tokens=params.special_tokens.tokens(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, seen or not
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=length)
    return tokenizer


def for_documents(tokenizer: Tokenizer) -> Tokenizer:
    """The tokenizer as documents need it: special-token strings in the text are plain text.

    A crawled page that contains "<|eos|>" must not end a document or open a chat turn: web text
    is untrusted, and only our own code places special tokens (the eos after each document here,
    the chat template in SFT)."""
    tokenizer.encode_special_tokens = True
    return tokenizer
