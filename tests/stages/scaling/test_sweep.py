"""The scaling stage end to end on the pretrain kit's corpus: a 3 x 3 IsoFLOP sweep in which
one run fails (a damaged checkpoint), the sweep that reruns only that run, the fit and the
recommendation, and a pretraining run at the recommended size through `pretrain.size_from`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from crisol.core.params import load
from kit.paths import REPO_ROOT
from kit.pretrain import make_corpus
from kit.scaling import write_sweep_params
from kit.stages import run_stage
from stages.scaling.params import ScalingParams
from stages.scaling.plan import make_plan

pytestmark = pytest.mark.timeout(600)


def _sweep(params_file) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "stages.scaling", "--params", str(params_file)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )


def _plan(params_file):
    params, _, _ = load("scaling", ScalingParams, params_file)
    return make_plan(params, params_file)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Sweep once with one run's checkpoint damaged, repair it, sweep again."""
    root = tmp_path_factory.mktemp("sweep")
    params_file = write_sweep_params(root, make_corpus(root / "corpus"))
    plan = _plan(params_file)
    broken = plan.runs[4]
    damaged = plan.directory(broken) / "work" / "tiny" / "step-000001"
    damaged.mkdir(parents=True)
    (damaged / "state.json").write_text("{}")
    (damaged / "tensors.safetensors").write_bytes(b"")
    first = _sweep(params_file)
    shutil.rmtree(damaged)
    second = _sweep(params_file)
    return {"root": root, "params": params_file, "plan": plan, "broken": broken, "first": first, "second": second}


def test_a_failed_run_fails_the_sweep_and_only_it_runs_again(swept):
    plan, broken, first, second = swept["plan"], swept["broken"], swept["first"], swept["second"]
    assert len(plan.runs) == 9 and len({(r.depth, r.steps) for r in plan.runs}) == 9
    assert first.returncode == 1, first.stderr[-2000:]
    assert f"1 of 9 runs failed: {broken.id}" in first.stderr and "runs only these" in first.stderr
    assert first.stderr.count(") ran in ") == 8, "the other runs finish despite the failure"

    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    metrics = json.loads((swept["root"] / "scaling.json").read_text())
    assert (metrics["runs"], metrics["runs_ran"], metrics["runs_cached"], metrics["runs_failed"]) == (9, 1, 8, 0)
    assert f"{broken.id} (depth {broken.depth}, {broken.steps} steps) ran" in second.stderr
    assert not (plan.directory(broken) / "work").exists(), "a finished run's checkpoints are deleted"


def test_the_fit_converges_and_the_outputs_are_written(swept):
    root = swept["root"]
    metrics = json.loads((root / "scaling.json").read_text())
    assert metrics["fit_converged"] and metrics["fit_residual_rms"] < 0.5
    for name in ("E", "A", "B", "alpha", "beta"):
        low, high = metrics[f"law_{name}_interval"]
        assert low <= metrics[f"law_{name}"] * (1 + 1e-9) and metrics[f"law_{name}"] <= high * (1 + 1e-9)
    fit = json.loads((root / "scaling" / "fit.json").read_text())
    assert fit["runs"] == 9 and fit["bootstrap"] == 20
    table = json.loads((root / "scaling" / "table.json").read_text())
    assert len(table["rows"]) == 9 and table["headers"][0] == "run"
    losses = {row[0]: row[table["headers"].index("loss")] for row in table["rows"]}
    assert all(0 < loss < 20 for loss in losses.values())
    report = (root / "scaling" / "report.md").read_text()
    assert "## Recommendation for C = 3.2e+09 FLOPs" in report and "pretrain.size_from" in report
    assert {p.name for p in (root / "figures").iterdir()} == {"isoflop.png", "frontier.png"}  # no fact probes here


def test_the_next_pretraining_run_takes_the_recommended_size(swept):
    rec = json.loads((swept["root"] / "scaling" / "recommendation.json").read_text())
    assert rec["depth"] in (1, 2, 3, 4) and rec["steps"] == rec["size"]["max_steps"] >= 1
    assert rec["tokens"] == rec["steps"] * 64
    out = swept["root"] / "next"  # inside the params file's workspace (crisol/core/output_guards.py)
    code = run_stage(
        "pretrain",
        swept["params"],
        f"pretrain.size_from={swept['root'] / 'scaling' / 'recommendation.json'}",
        f"pretrain.out={out / 'pretrain'}",
        f"pretrain.metrics={out / 'metrics.json'}",
        f"pretrain.checkpoint_dir={out / 'work'}",
        f"pretrain.plots={out / 'plots'}",
    )
    assert code == 0
    trained = json.loads((out / "metrics.json").read_text())
    assert trained["steps"] == rec["steps"] and trained["model"]["depth"] == rec["depth"]
    assert trained["model"]["d_model"] == 32 and trained["parameters_non_embedding"] == rec["params"]
    assert trained["sized_by"].endswith("recommendation.json")


def test_size_from_a_missing_or_foreign_file_is_a_params_error(swept, tmp_path, capsys):
    assert run_stage("pretrain", swept["params"], f"pretrain.size_from={tmp_path / 'none.json'}") == 2
    assert "run the scaling stage first" in capsys.readouterr().err
    (tmp_path / "other.json").write_text(json.dumps({"depth": 3}))
    assert run_stage("pretrain", swept["params"], f"pretrain.size_from={tmp_path / 'other.json'}") == 2
    assert "is not a scaling recommendation" in capsys.readouterr().err


def test_the_prefect_flow_trains_only_the_runs_not_done(swept, prefect_server):
    from prefect import flow

    from flows.scaling import sweep

    plan = swept["plan"]
    lost = plan.runs[0]
    (plan.directory(lost) / "metrics.json").unlink()  # as if that run had never finished
    rows = flow(name="scaling-sweep-test")(sweep)(swept["root"])
    assert sorted(r["status"] for r in rows) == ["cached"] * 8 + ["ran"]
    assert [r["run"] for r in rows if r["status"] == "ran"] == [lost.id]


def test_queued_experiments_set_the_runs_in_the_profiles_table(swept):
    from stages.scaling.experiments import experiment_name, queue_command

    plan = swept["plan"]
    run = plan.runs[2]
    command = queue_command(plan, run)
    assert command[:6] == ["dvc", "exp", "run", "--queue", "pretrain", "--name"] and command[6] == experiment_name(run)
    settings = command[8::2]
    # the profile's table wins over the base section (micro's max_steps: 40 would train every run 40 steps)
    assert f"++profiles.tiny.pretrain.max_steps={run.steps}" in settings
    assert f"++profiles.tiny.pretrain.model.depth={run.depth}" in settings
    assert "++profiles.tiny.pretrain.size_from=null" in settings and all(
        s.startswith("++profiles.tiny.") for s in settings
    )
