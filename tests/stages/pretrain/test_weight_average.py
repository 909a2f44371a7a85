"""pretrain.ema: the stage evaluates and writes the weight average, logs the live weights beside it,
keeps it in checkpoints (the resume test covers a killed run), names it in the run's fingerprint, and
a bad value or fsdp with it is a one-line params error."""

from __future__ import annotations

import json

import pytest
import torch

from kit.pretrain import final_weights, make_corpus, metrics, write_params
from kit.stages import run_stage

RUN = {"max_steps": 12, "eval_every": 6, "checkpoint_every": 6}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_off_by_default_the_live_weights_are_the_model(tmp_path, corpus):
    assert run_stage("pretrain", write_params(tmp_path, corpus, **RUN)) == 0
    m = metrics(tmp_path)
    assert m["ema"] == 0 and "live_bits_per_byte" not in m["validation"]


def test_on_the_written_model_is_the_average_scored_beside_the_live_weights(tmp_path, corpus):
    off, on = tmp_path / "off", tmp_path / "on"
    off.mkdir(), on.mkdir()
    assert run_stage("pretrain", write_params(off, corpus, **RUN)) == 0
    assert run_stage("pretrain", write_params(on, corpus, **RUN, ema=0.9)) == 0
    live, averaged = metrics(off), metrics(on)
    # The same training (the average only reads the weights): the live figures are the plain run's.
    assert averaged["validation"]["live_bits_per_byte"] == live["validation"]["bits_per_byte"]
    assert averaged["validation"]["bits_per_byte"] != live["validation"]["bits_per_byte"]
    assert averaged["train_loss"] == live["train_loss"] and averaged["ema"] == 0.9
    written, plain = final_weights(on), final_weights(off)
    assert written.keys() == plain.keys()
    assert any(not torch.equal(written[k], plain[k]) for k in plain)
    # The plot keeps its columns; the validation history in the checkpoint has the live figures too.
    assert (on / "plots" / "validation.csv").read_text().splitlines()[0] == "step,loss,bits_per_byte"
    state = json.loads(sorted((on / "work" / "tiny").glob("step-*/state.json"))[-1].read_text())
    assert {"live_loss", "live_bits_per_byte"} <= set(state["history"]["validation"][-1])


def test_the_decay_is_part_of_the_runs_fingerprint(tmp_path, corpus, capsys):
    params = write_params(tmp_path, corpus, **RUN, ema=0.9)
    assert run_stage("pretrain", params) == 0
    capsys.readouterr()
    assert run_stage("pretrain", params, "pretrain.ema=0.99") == 1
    err = capsys.readouterr().err
    assert "checkpoint of another run" in err and "ema: 0.9 -> 0.99" in err


@pytest.mark.parametrize(
    "override, says",
    [("pretrain.ema=1", "ema"), ("pretrain.ema=-0.5", "ema"), ("pretrain.fsdp=true", "not supported with fsdp")],
)
def test_a_bad_decay_or_fsdp_with_it_is_a_one_line_params_error(tmp_path, corpus, capsys, override, says):
    params = write_params(tmp_path, corpus, ema=0.5)
    assert run_stage("pretrain", params, override) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not (tmp_path / "work").exists()
