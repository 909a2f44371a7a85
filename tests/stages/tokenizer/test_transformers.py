"""The tokenizer file loads in Hugging Face transformers and gives the same ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisol.formats.tokenizer_file import TOKENIZER_FILE, load_tokenizer
from kit.tokenizer import SENTENCES, corpus_text
from stages.tokenizer.bpe import fit
from stages.tokenizer.hf_files import write_hf_files
from stages.tokenizer.params import TokenizerParams

transformers = pytest.importorskip("transformers")
PARAMS = TokenizerParams(vocab_size=400)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tokenizer")
    fit(corpus_text(), PARAMS).save(str(directory / TOKENIZER_FILE))
    write_hf_files(directory, PARAMS.special_tokens)
    return directory


@pytest.fixture(scope="module")
def ours(saved):
    return load_tokenizer(saved)


@pytest.fixture(scope="module")
def fast(saved):
    return transformers.PreTrainedTokenizerFast(tokenizer_file=str(saved / TOKENIZER_FILE))


@pytest.fixture(scope="module")
def auto(saved):
    return transformers.AutoTokenizer.from_pretrained(str(saved), local_files_only=True)


TEXTS = SENTENCES + ["", "  spaces  ", "Zahlen 1234567 und Ümlaute", "🎉 中文 שלום", "tab\tand\nnewline\r\n"]


@pytest.mark.parametrize("text", TEXTS)
def test_same_ids_as_transformers(ours, fast, auto, text):
    expected = ours.encode(text).ids
    assert fast.encode(text, add_special_tokens=False) == expected
    assert auto.encode(text, add_special_tokens=False) == expected  # no bos/eos added by default either
    assert auto.encode(text) == expected


@settings(max_examples=100, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_same_ids_for_any_text(ours, fast, text):
    assert fast.encode(text, add_special_tokens=False) == ours.encode(text).ids


def test_special_tokens_agree(ours, auto):
    specials = PARAMS.special_tokens
    assert auto.bos_token_id == ours.token_to_id(specials.bos)
    assert auto.eos_token_id == ours.token_to_id(specials.eos)
    assert auto.pad_token_id == ours.token_to_id(specials.pad) != auto.eos_token_id
    for token in (specials.user, specials.assistant, specials.end_of_turn, specials.system):
        assert auto.convert_tokens_to_ids(token) == ours.token_to_id(token)
    assert set(auto.all_special_tokens) == set(specials.tokens())


def test_decode_gives_back_the_text(auto):
    text = "Maren Okafor, 1871 — cartographer 🎉"
    assert auto.decode(auto.encode(text)) == text
