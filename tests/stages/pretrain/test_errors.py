"""Unusable inputs and foreign checkpoints stop the stage with one clear line (exit 1)."""

from __future__ import annotations

import json
import shutil

import pytest

from kit.pretrain import make_corpus, write_params
from kit.stages import run_stage


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def workspace(tmp_path, corpus):
    """A private copy of the corpus, free to break."""
    tokens = tmp_path / "tokens"
    shutil.copytree(corpus["tokens"], tokens)
    tokenizer = tmp_path / "tokenizer"
    shutil.copytree(corpus["tokenizer"], tokenizer)
    copy = {"tokens": tokens, "tokenizer": tokenizer}
    return tmp_path, copy, write_params(tmp_path, copy, max_steps=2, checkpoint_every=1, eval_every=2)


def test_missing_shard_is_a_clear_error(workspace, capsys):
    root, corpus, params = workspace
    (corpus["tokens"] / "train" / "part-00001.arrow").unlink()
    assert run_stage("pretrain", params) == 1
    err = capsys.readouterr().err
    assert "part-00001.arrow: missing or corrupt token shard" in err


def test_corrupt_shard_is_a_clear_error(workspace, capsys):
    root, corpus, params = workspace
    shard = corpus["tokens"] / "train" / "part-00000.arrow"
    shard.write_bytes(shard.read_bytes()[:100] + b"\0garbage" * 50)
    assert run_stage("pretrain", params) == 1
    assert "part-00000.arrow: missing or corrupt token shard" in capsys.readouterr().err


def test_token_ids_beyond_the_vocabulary_are_an_error(workspace, capsys):
    root, corpus, params = workspace
    manifest = corpus["tokens"] / "validation" / "manifest.json"
    raw = json.loads(manifest.read_text())
    # A tokenizer with a smaller vocabulary than the shards' ids: the file's hash matches, the sizes not.
    raw["vocab_size"] = 300
    manifest.write_text(json.dumps(raw))
    assert run_stage("pretrain", params) == 1
    assert "vocabulary size 300 differs from the tokenizer's 400" in capsys.readouterr().err


def test_another_tokenizer_is_an_error(workspace, capsys):
    root, corpus, params = workspace
    path = corpus["tokenizer"] / "tokenizer.json"
    raw = json.loads(path.read_text())
    raw["model"]["vocab"] = dict(raw["model"]["vocab"])  # same vocabulary, re-serialised: another file
    path.write_text(json.dumps(raw, indent=1))
    assert run_stage("pretrain", params) == 1
    assert "shards were made by tokenizer" in capsys.readouterr().err


def test_incompatible_checkpoint_is_an_error_unless_restart(workspace, capsys):
    root, corpus, params = workspace
    assert run_stage("pretrain", params) == 0
    capsys.readouterr()
    assert run_stage("pretrain", params, "pretrain.model.depth=3") == 1
    err = capsys.readouterr().err
    assert "checkpoint of another run" in err and "'depth': 2" in err
    assert "pretrain.on_incompatible_checkpoint=restart" in err
    assert run_stage("pretrain", params, "pretrain.model.depth=3", "pretrain.on_incompatible_checkpoint=restart") == 0
    saved = json.loads((root / "pretrain" / "model" / "config.json").read_text())
    assert saved["model"]["depth"] == 3


def test_a_checkpoint_of_the_other_optimiser_is_another_run(workspace, capsys):
    _, _, params = workspace
    assert run_stage("pretrain", params) == 0
    capsys.readouterr()
    assert run_stage("pretrain", params, "pretrain.optimizer=muon") == 1
    err = capsys.readouterr().err
    assert "checkpoint of another run" in err and "optimizer: None -> 'muon'" in err
    # And back: a Muon checkpoint is no AdamW run's either.
    restart = "pretrain.on_incompatible_checkpoint=restart"
    assert run_stage("pretrain", params, "pretrain.optimizer=muon", restart) == 0
    capsys.readouterr()
    assert run_stage("pretrain", params) == 1
    assert "optimizer: 'muon' -> None" in capsys.readouterr().err


def test_window_longer_than_every_shard_is_an_error(workspace, capsys):
    root, corpus, params = workspace
    assert run_stage("pretrain", params, "pretrain.seq_len=100000", "pretrain.eval_tokens=1000000") == 1
    err = capsys.readouterr().err
    assert "100001" in err and ("no shard holds a window" in err or "validation tokens in any shard" in err)


def test_bad_model_shape_is_a_params_error(workspace, capsys):
    root, corpus, params = workspace
    assert run_stage("pretrain", params, "pretrain.model.n_heads=3") == 2
    assert "d_model (32) must be a multiple of n_heads (3)" in capsys.readouterr().err
