"""pretrain.max_seconds: a run stops at the first step boundary after that many seconds of training,
still evaluates and writes its outputs, decays the learning rate to its floor by the clock, resumes
into the same run only, and a bad value is a one-line params error."""

from __future__ import annotations

import json

import pytest

from crisol.training.schedule import learning_rate
from kit.pretrain import make_corpus, metrics, write_params
from kit.stages import run_stage

# max_steps far beyond what fits in the budget: the clock must be what stops the run.
BUDGET = {"max_steps": 100_000, "max_seconds": 1.5, "checkpoint_every": 100_000, "eval_every": 100_000}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_time_fraction_decays_to_the_floor_whatever_the_steps():
    kw = {"peak": 1.0, "warmup": 10, "total": 100_000, "floor_ratio": 0.1, "decay": "cosine"}
    assert learning_rate(5, **kw, time_fraction=0.9) == pytest.approx(0.6)  # warm-up stays in steps
    assert learning_rate(50, **kw, time_fraction=0.0) == pytest.approx(1.0, abs=1e-3)
    assert learning_rate(50, **kw, time_fraction=0.5) == pytest.approx(0.55, abs=1e-3)
    assert learning_rate(50, **kw, time_fraction=1.0) == pytest.approx(0.1)
    # whichever budget is further along decides
    assert learning_rate(99_999, **kw, time_fraction=0.1) == pytest.approx(0.1, abs=1e-6)


def test_the_clock_stops_the_run_which_still_evaluates_and_writes_outputs(tmp_path, corpus):
    params = write_params(tmp_path, corpus, **BUDGET, lr=1e-3, min_lr_ratio=0.1)
    assert run_stage("pretrain", params) == 0
    m = metrics(tmp_path)
    assert 0 < m["steps"] < BUDGET["max_steps"] and m["stopped_by"] == "max_seconds"
    assert m["train_seconds"] >= BUDGET["max_seconds"]
    assert (tmp_path / "pretrain" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "pretrain" / "hf" / "config.json").is_file()
    validation = (tmp_path / "plots" / "validation.csv").read_text().splitlines()
    assert validation[-1].split(",")[0] == str(m["steps"])  # evaluated at the step the clock stopped
    assert m["validation"]["bits_per_byte"] > 0
    # the schedule's horizon is the clock: the last logged rate is near the floor, not the peak
    last_lr = float((tmp_path / "plots" / "lr.csv").read_text().splitlines()[-1].split(",")[1])
    assert last_lr < 1e-4 + 0.15 * (1e-3 - 1e-4)

    # A rerun resumes at the end (the budget is spent): no more training, same outputs.
    assert run_stage("pretrain", params) == 0
    again = metrics(tmp_path)
    assert again["steps"] == m["steps"] and again["resumed_from_step"] == m["steps"]
    assert again["stopped_by"] == "max_seconds"


def test_steps_still_stop_a_run_within_its_seconds(tmp_path, corpus):
    params = write_params(tmp_path, corpus, max_steps=12, max_seconds=600)
    assert run_stage("pretrain", params) == 0
    assert metrics(tmp_path)["steps"] == 12 and metrics(tmp_path)["stopped_by"] == "max_steps"


def test_max_seconds_is_part_of_the_runs_fingerprint(tmp_path, corpus, capsys):
    params = write_params(tmp_path, corpus, **{**BUDGET, "max_seconds": 0.5})
    assert run_stage("pretrain", params) == 0
    capsys.readouterr()
    assert run_stage("pretrain", params, "pretrain.max_seconds=5") == 1
    err = capsys.readouterr().err
    assert "checkpoint of another run" in err and "max_seconds: 0.5 -> 5.0" in err


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_max_seconds_is_a_one_line_params_error(tmp_path, corpus, capsys, value):
    params = write_params(tmp_path, corpus)
    assert run_stage("pretrain", params, f"pretrain.max_seconds={value}") == 2
    err = capsys.readouterr().err.strip()
    assert "max_seconds" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "work").exists()


def test_metrics_name_the_budget(tmp_path, corpus):
    params = write_params(tmp_path, corpus, max_steps=4)
    assert run_stage("pretrain", params) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["stopped_by"] == "max_steps" and m["max_seconds"] is None
