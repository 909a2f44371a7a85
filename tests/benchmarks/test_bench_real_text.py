"""benchmarks/bench_real_text.py's data preparation, without training: the first 90% of the
characters as the train split and the last 10% as validation, tokenized by our BPE (fitted on the
train split only) or by characters, in the token-shard format the pretrain stage reads (its own
input checks pass); the command line's tokenizer choices and the report."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from benchmarks.bench_real_text import (
    MODEL,
    NANOGPT,
    OURS,
    char_vocabulary,
    parse_args,
    prepare,
    report,
    write_params,
)
from crisol.core.params import apply_override
from crisol.formats.tokenizer_file import load_tokenizer, token_byte_lengths
from crisol.formats.tokens import TokenSplit
from stages.pretrain.inputs import load_inputs
from stages.pretrain.params import PretrainParams

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 7


def _ids(split: TokenSplit, eos: int) -> list[int]:
    ids = np.concatenate([split.tokens(i) for i in split.shard_indices]).tolist()
    assert ids[-1] == eos  # the document ends with eos, as every split does
    return ids[:-1]


@pytest.mark.parametrize("kind", ["bpe", "chars"])
def test_the_split_is_by_characters_and_each_side_decodes_back(tmp_path, kind):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    prepared = prepare(path, tmp_path / "data", kind, vocab_size=300)
    cut = int(len(TEXT) * 0.9)
    assert (prepared.train_chars, prepared.validation_chars) == (cut, len(TEXT) - cut)
    tokenizer = load_tokenizer(prepared.tokenizer)
    train, validation = TokenSplit(prepared.train), TokenSplit(prepared.validation)
    assert tokenizer.decode(_ids(train, prepared.eos_id)) == TEXT[:cut]
    assert tokenizer.decode(_ids(validation, prepared.eos_id)) == TEXT[cut:]
    assert train.manifest.vocab_size == prepared.vocab_size == tokenizer.get_vocab_size()
    assert (prepared.train_tokens, prepared.validation_tokens) == (
        train.manifest.tokens - 1,
        validation.manifest.tokens - 1,
    )
    inputs = load_inputs(prepared.train, prepared.validation, prepared.tokenizer)  # the stage's checks
    assert inputs.vocab_size == prepared.vocab_size


def test_characters_are_one_token_and_one_byte_each(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    prepared = prepare(path, tmp_path / "data", "chars")
    vocabulary = char_vocabulary(TEXT)
    tokenizer = load_tokenizer(prepared.tokenizer)
    ids = tokenizer.encode(TEXT).ids
    assert [vocabulary[i] for i in ids] == list(TEXT)
    assert prepared.vocab_size == len(vocabulary) + 1 and prepared.eos_id == len(vocabulary)
    lengths = token_byte_lengths(tokenizer)
    assert lengths[:-1].tolist() == [1] * len(vocabulary) and lengths[-1] == 0  # eos: no text


def test_the_bpe_is_fitted_on_the_train_split_alone(tmp_path):
    # A word only the held-out tenth holds, often enough to be merged if the BPE had seen it.
    text = TEXT * 7 + "Zyxqv " * 20
    path = tmp_path / "text.txt"
    path.write_text(text)
    assert "Zyxqv" not in text[: int(len(text) * 0.9)]
    prepared = prepare(path, tmp_path / "data", "bpe", vocab_size=400)
    tokenizer = load_tokenizer(prepared.tokenizer)
    assert not any("yx" in token for token in tokenizer.get_vocab())
    assert any("peak" in token for token in tokenizer.get_vocab())  # train words are merged
    assert prepared.train_tokens < prepared.train_chars / 2


def test_non_ascii_text_is_refused_by_characters_and_read_by_the_bpe(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("café au lait, s'il vous plaît. " * 50)
    with pytest.raises(SystemExit, match="ASCII"):
        prepare(path, tmp_path / "data", "chars")
    prepared = prepare(path, tmp_path / "bpe", "bpe", vocab_size=300)
    assert (
        load_tokenizer(prepared.tokenizer).decode(_ids(TokenSplit(prepared.train), prepared.eos_id))
        == (path.read_text()[: prepared.train_chars])
    )


def test_tinyshakespeare_split_and_tokenizers(tmp_path, shared_data):
    text = shared_data / "text" / "tinyshakespeare.txt"
    chars = prepare(text, tmp_path / "chars", "chars")
    assert chars.vocab_size == 66  # 65 characters and eos
    assert (chars.train_chars, chars.validation_chars) == (1_003_854, 111_540)
    assert chars.train_tokens == chars.train_chars
    bpe = prepare(text, tmp_path / "bpe", "bpe", vocab_size=512)
    assert bpe.vocab_size == 512 and bpe.train_chars == chars.train_chars
    assert 1.9 < bpe.train_chars / bpe.train_tokens < 2.2  # 2.02 measured


def test_each_recipe_has_its_tokenizer_and_mistakes_are_one_line(capsys):
    ours, nanogpt = parse_args([]), parse_args(["--recipe", "nanogpt"])
    assert (ours.tokenizer, ours.vocab) == ("bpe", 512)
    assert nanogpt.tokenizer == "chars"
    assert (
        parse_args(["--recipe", "nanogpt", "--tokenizer", "bpe"]).tokenizer,
        parse_args(["--vocab", "1024"]).vocab,
    ) == (
        "bpe",
        1024,
    )
    for argv, message in (
        (["--tokenizer", "chars", "--vocab", "600"], "--vocab sizes the BPE"),
        (["--vocab", "100"], "--vocab must be from 267"),
        (["--vocab", "0"], "--vocab must be from 267"),
    ):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err


def test_set_reaches_every_pretrain_key_not_only_the_settings(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    params = write_params(tmp_path, prepare(path, tmp_path / "data", "chars"), seconds=5, threads=1)
    tree = yaml.safe_load(params.read_text())
    for assignment in ("pretrain.beta1=0.8", "pretrain.model.ffn_hidden=256", "pretrain.lr=0.002"):
        apply_override(tree, assignment)  # raised "unknown parameter" for keys outside the recipe
    section = PretrainParams(**tree["pretrain"])
    assert (section.beta1, section.model.ffn_hidden, section.lr, section.model.depth) == (0.8, 256, 0.002, 4)


@pytest.mark.parametrize("recipe, settings", [("ours", OURS), ("nanogpt", NANOGPT)])
def test_both_recipes_train_the_same_network_with_their_own_settings(tmp_path, recipe, settings):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    params = write_params(tmp_path, prepare(path, tmp_path / "data", "chars"), seconds=5, threads=1, recipe=recipe)
    section = PretrainParams(**yaml.safe_load(params.read_text())["pretrain"])
    assert (section.model.depth, section.model.d_model) == (MODEL["depth"], MODEL["d_model"])
    assert {key: getattr(section, key) for key in settings} == settings
    assert section.max_seconds == 5


# What the report reads from the stage's metrics.json.
METRICS = {
    "steps": 10,
    "train_seconds": 2.0,
    "run_seconds": 3.0,
    "device": "cpu (2 threads)",
    "stopped_by": "max_seconds",
    "tokens_per_s": 1234.0,
    "ema": 0.0,
}


@pytest.mark.parametrize("bf16, shown", [(True, "bf16 autocast"), (False, "float32")])
def test_the_report_names_the_precision_and_ends_with_the_figure(capsys, bf16, shown):
    report({**METRICS, "bf16": bf16, "validation": {"bits_per_byte": 2.1589}}, characters_per_token=2.0)
    lines = capsys.readouterr().out.splitlines()
    assert f"cpu (2 threads), {shown})" in lines[0]
    assert "tokens/s: 1,234, characters/s: 2,468 (training)" in lines
    assert lines[-1] == "held-out bits per byte: 2.159"
    assert not any("weight average" in line for line in lines)


def test_with_a_weight_average_the_report_shows_the_live_figure_beside(capsys):
    validation = {"bits_per_byte": 2.138, "live_bits_per_byte": 2.160}
    report({**METRICS, "bf16": True, "ema": 0.995, "validation": validation})
    lines = capsys.readouterr().out.splitlines()
    assert "weight average (decay 0.995): 2.138; the live weights: 2.160 bits per byte" in lines
    assert lines[-1] == "held-out bits per byte: 2.138"
