"""The Prefect flow over a small DVC graph: order, DVC's skip, log lines, artifacts, failures."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from flows.dvc_graph import stage_order
from flows.pipeline import dvc_executable
from flows.workspace_lock import current_holder
from kit import deploy
from kit.paths import REPO_ROOT

DVC = dvc_executable()

# The deployment tests' two stages, then a report card and a stage that fails.
TOY_DVC_YAML = deploy.TOY_DVC_YAML + textwrap.indent(
    textwrap.dedent("""\
      make_card:
        cmd: python make_card.py
        deps:
          - a.txt
        outs:
          - card
      broken:
        cmd: python fail.py
        deps:
          - b.txt
        outs:
          - never.txt
    """),
    "  ",
)


MAKE_CARD = textwrap.dedent("""\
    import json, pathlib
    card = pathlib.Path("card")
    card.mkdir(exist_ok=True)
    (card / "report.md").write_text("# card")
    (card / "table.json").write_text(json.dumps({"headers": ["metric", "value"], "rows": [["n", "2"]]}))
    (card / "speedrun.json").write_text(json.dumps({"profile": "toy", "seconds": {"make_card": 0.1}}))
    """)


# The failing stage counts its attempts and exits with the status its test writes (3 by default);
# a negative one is a kill by that signal, as the out-of-memory killer's.
FAIL = textwrap.dedent("""\
    import os, pathlib, sys
    print("about to fail", flush=True)
    with open("attempts.txt", "a") as attempts:
        attempts.write("x")
    status = pathlib.Path("exit_status.txt")
    code = int(status.read_text()) if status.exists() else 3
    if code < 0:
        os.kill(os.getpid(), -code)
    sys.exit(code)
    """)


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    (tmp_path / "dvc.yaml").write_text(TOY_DVC_YAML)
    (tmp_path / "params.yaml").write_text("# a comment that must survive overrides\ntoy:\n  n: 2\n")
    (tmp_path / "make_card.py").write_text(MAKE_CARD)
    (tmp_path / "fail.py").write_text(FAIL)
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_stage_order_follows_dependencies(toy_repo):
    assert [s.name for s in stage_order(toy_repo)] == ["make_a", "make_b", "broken", "make_card"]
    assert [s.name for s in stage_order(toy_repo, ["make_b"])] == ["make_a", "make_b"]
    with pytest.raises(ValueError, match="unknown stage"):
        stage_order(toy_repo, ["nope"])


def test_flow_runs_then_skips_and_reports(prefect_server, toy_repo):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.pipeline import pipeline

    first = pipeline(root=str(toy_repo), targets=["make_b"], return_state=True)
    assert first.is_completed()
    rows = first.result()
    assert [(r["stage"], r["outcome"]) for r in rows] == [("make_a", "ran"), ("make_b", "ran")]
    assert (toy_repo / "b.txt").read_text() == "aab"

    second = pipeline(root=str(toy_repo), targets=["make_b"])
    assert [r["outcome"] for r in second] == ["skipped", "skipped"]
    assert not (toy_repo / "results").exists(), "no stage left a speedrun line: nothing logged"

    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[first.state_details.flow_run_id]))
        )
        assert any("hello from make_b" in log.message for log in logs), "stage output must reach Prefect"
        artifact = client.read_latest_artifacts()
        keys = [a.key for a in artifact]
        assert "pipeline-stages" in keys

    # A stage that leaves report.md and table.json in its output has them published.
    assert pipeline(root=str(toy_repo), targets=["make_card"])[-1]["outcome"] == "ran"
    with get_client(sync_client=True) as client:
        by_key = {a.key: a for a in client.read_latest_artifacts()}
        assert by_key["make-card-report"].data == "# card"
        assert by_key["make-card-table"].type == "table"
    # ... and its speedrun.json goes to the results log once: DVC skips the stage, the line is not doubled.
    assert pipeline(root=str(toy_repo), targets=["make_card"])[-1]["outcome"] == "skipped"
    log = (toy_repo / "results" / "speedrun.jsonl").read_text().splitlines()
    assert len(log) == 1 and json.loads(log[0])["profile"] == "toy"
    assert current_holder(toy_repo) is None, "a finished run leaves the workspace lock free"


def test_flow_overrides_params_and_dvc_reruns(prefect_server, toy_repo):
    from flows.pipeline import pipeline

    pipeline(root=str(toy_repo), targets=["make_a"])
    rows = pipeline(root=str(toy_repo), targets=["make_a"], set_params=["toy.n=5"])
    assert rows[0]["outcome"] == "ran"
    assert (toy_repo / "a.txt").read_text() == "aaaaa"
    text = (toy_repo / "params.yaml").read_text()
    assert "# a comment that must survive overrides" in text and "n: 5" in text
    with pytest.raises(Exception, match="unknown parameter"):
        pipeline(root=str(toy_repo), set_params=["toy.missing=1"])


# A stage's own error (1: unusable input or a crash, 2: a params mistake) would only repeat: one
# attempt. Anything else (3, a status the stages never use; a kill by signal 9) gets its one retry.
@pytest.mark.parametrize("status, attempts", [(3, 2), (-9, 2), (1, 1), (2, 1)])
def test_failed_stage_fails_the_flow_with_its_output(prefect_server, toy_repo, status, attempts):
    from flows.pipeline import pipeline

    (toy_repo / "exit_status.txt").write_text(str(status))
    state = pipeline(root=str(toy_repo), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match="about to fail"):
        state.result()
    assert (toy_repo / "b.txt").exists(), "stages before the failure still ran"
    assert (toy_repo / "attempts.txt").read_text() == "x" * attempts


def test_overrides_change_only_the_overridden_line_of_params_yaml(tmp_path):
    from flows.workspace import apply_param_overrides

    original = (REPO_ROOT / "params.yaml").read_text()
    copy = tmp_path / "params.yaml"
    copy.write_text(original)
    apply_param_overrides(copy, ["profile=micro"])
    changed = [(a, b) for a, b in zip(original.splitlines(), copy.read_text().splitlines()) if a != b]
    assert changed == [("profile: tiny", "profile: micro")]
    assert len(copy.read_text().splitlines()) == len(original.splitlines())


@pytest.mark.parametrize(
    "assignment, message",
    [("toy.n=[1", "--set toy.n: not valid YAML ("), ("toy.m=1", "--set toy.m: unknown parameter")],
)
def test_cli_set_mistake_is_one_line_and_exit_2_before_the_flow(assignment, message, toy_repo, capsys):
    from flows.pipeline import main

    assert main(["--root", str(toy_repo), "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
