"""decode(encode(x)) == x for any Unicode text: byte-level BPE has no unknown token, and the
default normalisation ("none") leaves the text as it is."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kit.tokenizer import corpus_text
from stages.tokenizer.bpe import fit, for_documents
from stages.tokenizer.params import TokenizerParams

PARAMS = TokenizerParams(vocab_size=400)


@pytest.fixture(scope="module")
def tokenizer():
    return for_documents(fit(corpus_text(), PARAMS))


# Every code point Python can encode as UTF-8 (surrogates cannot be), control characters included.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=400, deadline=None)
@given(text=any_text)
@example(text="Emoji 🎉👩‍👩‍👧‍👦 flags 🇪🇸 and skin tones 👋🏽")
@example(text="中文分词没有空格，日本語のテキスト、한국어 문장")
@example(text="שלום עולם مرحبا بالعالم (right to left) ‏‎")
@example(text="e\u0301 n\u0303 a\u030a\u0323 Z\u0351\u0348\u035a combining marks")
@example(text="\x00\x01\x07\x1b[31m\r\n\t\x0b\x0c\x7f\x85\u2028\u2029\ufeff")
@example(text="  leading and trailing spaces   ")
@example(text="literal specials <|eos|><|user|> stay text")
def test_round_trip(tokenizer, text):
    ids = tokenizer.encode(text).ids
    assert tokenizer.decode(ids, skip_special_tokens=False) == text


def test_special_strings_in_text_are_not_special_tokens(tokenizer):
    special_ids = {tokenizer.token_to_id(t) for t in PARAMS.special_tokens.tokens()}
    ids = tokenizer.encode("a page that says <|eos|> and <|assistant|> in its text").ids
    assert not special_ids & set(ids)


def test_fit_is_deterministic():
    assert fit(corpus_text(), PARAMS).to_str() == fit(corpus_text(), PARAMS).to_str()


def test_special_tokens_take_the_first_ids(tokenizer):
    assert [tokenizer.token_to_id(t) for t in PARAMS.special_tokens.tokens()] == list(
        range(len(PARAMS.special_tokens.tokens()))
    )
