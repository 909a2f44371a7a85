"""Pretraining text mixed into SFT (sft.text_mix_rows): it trains, is counted, changes the model,
and a split the chat tokenizer did not make, or none at all, is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from crisol.model.weights import WEIGHTS_FILE
from kit.sft import CONTEXT, PLAIN_TEXT, make_inputs, run_sft, write_token_split

ROWS = 3


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("sft-text-inputs"))


def test_mixed_text_trains_and_is_counted(tmp_path, inputs):
    code, plain = run_sft(tmp_path / "plain", inputs, epochs=1, text_mix_rows=0)
    assert code == 0
    code, mixed = run_sft(tmp_path / "mixed", inputs, epochs=1, text_mix_rows=ROWS)
    assert code == 0
    training = json.loads((mixed / "metrics.json").read_text())["training"]
    assert training["text_mix_tokens"] == training["steps"] * ROWS * (CONTEXT - 1)
    assert json.loads((plain / "metrics.json").read_text())["training"]["text_mix_tokens"] == 0
    before = load_file(str(plain / "sft" / "model" / WEIGHTS_FILE))
    after = load_file(str(mixed / "sft" / "model" / WEIGHTS_FILE))
    assert any(not np.array_equal(before[n].numpy(), after[n].numpy()) for n in before)


def test_a_split_of_another_tokenizer_is_refused(tmp_path, inputs, capsys):
    text = write_token_split(tmp_path / "tokens", inputs["tokenizer"], [PLAIN_TEXT], sha="0" * 64)
    code, _ = run_sft(tmp_path / "run", inputs, text=str(text), text_mix_rows=ROWS)
    assert code == 1
    assert "shards were made by tokenizer 000000000000" in capsys.readouterr().err


def test_a_missing_split_is_refused_only_when_mixed(tmp_path, inputs, capsys):
    code, _ = run_sft(tmp_path / "run", inputs, text=str(tmp_path / "nowhere"), text_mix_rows=ROWS)
    assert code == 1
    assert "the pretraining token split text_mix_rows mixes in" in capsys.readouterr().err
    code, _ = run_sft(tmp_path / "off", inputs, text=str(tmp_path / "nowhere"), text_mix_rows=0, epochs=1)
    assert code == 0
