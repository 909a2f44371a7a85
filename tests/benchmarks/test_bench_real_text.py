"""benchmarks/bench_real_text.py's data preparation, without training: a character vocabulary and
tokenizer made on the spot, the first 90% of the characters as the train split and the last 10% as
validation, in the token-shard format the pretrain stage reads (its own input checks pass)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from benchmarks.bench_real_text import MODEL, NANOGPT, OURS, char_vocabulary, prepare, report, write_params
from crisol.core.params import apply_override
from crisol.formats.tokenizer_file import load_tokenizer, token_byte_lengths
from crisol.formats.tokens import TokenSplit
from stages.pretrain.inputs import load_inputs
from stages.pretrain.params import PretrainParams

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 7


def _decoded(split: TokenSplit, vocabulary: list[str]) -> str:
    ids = np.concatenate([split.tokens(i) for i in split.shard_indices])
    assert ids[-1] == len(vocabulary)  # the document ends with eos, as every split does
    return "".join(vocabulary[i] for i in ids[:-1])


def test_the_split_is_by_characters_and_round_trips(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    prepared = prepare(path, tmp_path / "data")
    cut = int(len(TEXT) * 0.9)
    assert prepared.vocabulary == sorted(set(TEXT)) == char_vocabulary(TEXT)
    assert (prepared.train_chars, prepared.validation_chars) == (cut, len(TEXT) - cut)
    train, validation = TokenSplit(prepared.train), TokenSplit(prepared.validation)
    assert _decoded(train, prepared.vocabulary) == TEXT[:cut]
    assert _decoded(validation, prepared.vocabulary) == TEXT[cut:]
    assert train.manifest.vocab_size == len(prepared.vocabulary) + 1
    assert train.manifest.eos_id == len(prepared.vocabulary)


def test_the_tokenizer_agrees_and_every_character_is_one_byte(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    prepared = prepare(path, tmp_path / "data")
    tokenizer = load_tokenizer(prepared.tokenizer)
    ids = tokenizer.encode(TEXT).ids
    assert [prepared.vocabulary[i] for i in ids] == list(TEXT)
    assert tokenizer.decode(ids) == TEXT
    lengths = token_byte_lengths(tokenizer)
    assert lengths[:-1].tolist() == [1] * len(prepared.vocabulary) and lengths[-1] == 0  # eos: no text
    inputs = load_inputs(prepared.train, prepared.validation, prepared.tokenizer)  # the stage's checks
    assert inputs.vocab_size == len(prepared.vocabulary) + 1


def test_non_ascii_text_is_refused(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("café " * 50)
    with pytest.raises(SystemExit, match="ASCII"):
        prepare(path, tmp_path / "data")


def test_tinyshakespeare_has_65_characters(tmp_path, shared_data):
    prepared = prepare(shared_data / "text" / "tinyshakespeare.txt", tmp_path / "data")
    assert len(prepared.vocabulary) == 65
    assert (prepared.train_chars, prepared.validation_chars) == (1_003_854, 111_540)


def test_set_reaches_every_pretrain_key_not_only_the_settings(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    params = write_params(tmp_path, prepare(path, tmp_path / "data"), seconds=5, threads=1)
    tree = yaml.safe_load(params.read_text())
    for assignment in ("pretrain.beta1=0.8", "pretrain.model.ffn_hidden=256", "pretrain.lr=0.002"):
        apply_override(tree, assignment)  # raised "unknown parameter" for keys outside the recipe
    section = PretrainParams(**tree["pretrain"])
    assert (section.beta1, section.model.ffn_hidden, section.lr, section.model.depth) == (0.8, 256, 0.002, 4)


@pytest.mark.parametrize("recipe, settings", [("ours", OURS), ("nanogpt", NANOGPT)])
def test_both_recipes_train_the_same_network_with_their_own_settings(tmp_path, recipe, settings):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    params = write_params(tmp_path, prepare(path, tmp_path / "data"), seconds=5, threads=1, recipe=recipe)
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
    report({**METRICS, "bf16": bf16, "validation": {"bits_per_byte": 2.1589}})
    lines = capsys.readouterr().out.splitlines()
    assert f"cpu (2 threads), {shown})" in lines[0]
    assert lines[-1] == "held-out bits per byte: 2.159"
    assert not any("weight average" in line for line in lines)


def test_with_a_weight_average_the_report_shows_the_live_figure_beside(capsys):
    validation = {"bits_per_byte": 2.138, "live_bits_per_byte": 2.160}
    report({**METRICS, "bf16": True, "ema": 0.995, "validation": validation})
    lines = capsys.readouterr().out.splitlines()
    assert "weight average (decay 0.995): 2.138; the live weights: 2.160 bits per byte" in lines
    assert lines[-1] == "held-out bits per byte: 2.138"
