"""Checkpoints: exact round trip, metadata, and one-line errors for every broken directory."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from crisol.core.errors import StageInputError
from crisol.model import ModelConfig, Transformer, load_model, read_model_config, save_model


def trained_looking(config: ModelConfig) -> Transformer:
    torch.manual_seed(1)
    model = Transformer(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # norms away from 1, so a lost weight shows
    return model


@pytest.mark.parametrize("tie, kv_heads", [(True, 2), (False, 1)])
def test_round_trip_is_exact(tmp_path, tie, kv_heads):
    config = ModelConfig.from_depth(2, 113, 32, tie_embeddings=tie, n_kv_heads=kv_heads)
    model = trained_looking(config)
    save_model(model, tmp_path / "m", metadata={"step": 7, "params": {"lr": 0.01}})
    loaded = load_model(tmp_path / "m")
    assert loaded.config == config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert (loaded.lm_head.weight is loaded.embed_tokens.weight) == tie
    ids = torch.randint(0, 113, (2, 9))
    assert torch.equal(model(ids)[0], loaded(ids)[0])
    assert read_model_config(tmp_path / "m") == (config, {"step": 7, "params": {"lr": 0.01}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary left behind
    stored = load_file(tmp_path / "m" / "model.safetensors")
    assert ("lm_head.weight" in stored) == (not tie)


def test_saving_again_replaces_the_directory(tmp_path):
    config = ModelConfig.from_depth(1, 50, 16)
    save_model(trained_looking(config), tmp_path / "m")
    (tmp_path / "m" / "stale.txt").write_text("old")
    save_model(Transformer(config), tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]


@pytest.fixture
def saved(tmp_path):
    directory = tmp_path / "m"
    save_model(trained_looking(ModelConfig.from_depth(1, 50, 16)), directory)
    return directory


def _edit_config(directory, **changes):
    path = directory / "config.json"
    raw = json.loads(path.read_text())
    for key, value in changes.items():
        if key in raw["model"]:
            raw["model"][key] = value
        else:
            raw[key] = value
    path.write_text(json.dumps(raw))


def _one_line_error(directory, match):
    with pytest.raises(StageInputError, match=match) as err:
        load_model(directory)
    assert "\n" not in str(err.value)


def test_missing_directory_or_files(tmp_path, saved):
    _one_line_error(tmp_path / "nowhere", "model not found")
    (saved / "model.safetensors").unlink()
    _one_line_error(saved, "weights not found")


def test_config_that_does_not_match_the_tensors(saved):
    _edit_config(saved, d_model=128, n_heads=2)
    _one_line_error(saved, r"shape .* config.json implies")


def test_config_with_another_depth(saved):
    _edit_config(saved, depth=2)
    _one_line_error(saved, "missing layers.1")


def test_unknown_format_version(saved):
    _edit_config(saved, format_version=99)
    _one_line_error(saved, "unknown model format version 99")


def test_invalid_model_config_names_the_key(saved):
    _edit_config(saved, n_kv_heads=3)
    _one_line_error(saved, "bad model config: model: .*n_kv_heads")


def test_hugging_face_config_is_recognised(saved):
    (saved / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    _one_line_error(saved, "not a crisol model config .*transformers")


def test_corrupt_weights(saved):
    (saved / "model.safetensors").write_bytes(b"\x00\x01garbage")
    _one_line_error(saved, "unreadable safetensors")


def test_extra_tensor_is_reported(saved):
    tensors = load_file(saved / "model.safetensors")
    tensors["surprise.weight"] = torch.zeros(2)
    save_file(tensors, saved / "model.safetensors")
    _one_line_error(saved, "unexpected surprise.weight")
