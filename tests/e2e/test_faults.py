"""Fault injection: SIGKILL every data stage, and the flow, at seeded random moments; the rerun must
give byte-identical outputs and leave no stale temporary file or stuck lock (issue 21).

A stage is killed as a reboot or `kill -9` would: `dvc repro` and the stage it started, the whole
process group, at a random point of its measured run time. The recovery is what a user runs next:
`make repro`'s two steps (`python -m flows.dvc_repair`, then `dvc repro`), or the flow again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from flows.pipeline import dvc_executable, tool_env
from kit import deploy
from kit.flow_process import FlowProcess
from kit.workspace import project_workspace

DVC = dvc_executable()
DATA_STAGES = ["web", "crawl", "ingest", "dedup", "tokenizer"]
# A recrawl's WARC records carry their fetch times and record ids, and ingest's documents keep them
# (provenance), so those two differ after the crawl reruns, by design; dedup's documents are in a
# canonical order without them, and from there on nothing may change (stages/dedup/canonical.py).
BYTE_STABLE = ["web", "dedup", "tokenizer"]
KILLS_PER_STAGE = 2

pytestmark = pytest.mark.e2e


def _repro(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [DVC, "repro", *args], cwd=root, env=tool_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _recover(root: Path) -> None:
    """What `make repro` does: repair what a killed dvc can leave, then reproduce."""
    subprocess.run([sys.executable, "-m", "flows.dvc_repair", "--root", str(root)], check=True, env=tool_env())
    _repro(root, "tokenizer")


def _out_hashes(root: Path) -> dict[str, str]:
    """Every byte-stable stage's outs, as dvc.lock records them (path -> md5); not the metrics files,
    which hold each run's times."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    outs = [out for stage in BYTE_STABLE for out in lock[stage].get("outs", [])]
    return {out["path"]: out["md5"] for out in outs if not out["path"].startswith("data/metrics/")}


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "data").rglob(".tmp-*"))


def _kill_after(cmd: list[str], root: Path, seconds: float, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        proc.wait(timeout=seconds)  # finished before its moment came: nothing to kill
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def data_workspace(tmp_path_factory):
    """The micro data stages, run once: their run times (for the kill moments) and output hashes."""
    root = project_workspace(tmp_path_factory.mktemp("faults") / "ws", ["profile=micro"])
    seconds = {}
    for stage in DATA_STAGES:
        start = time.monotonic()
        _repro(root, "--single-item", f"dvc.yaml:{stage}")
        seconds[stage] = time.monotonic() - start
    return root, seconds, _out_hashes(root)


@pytest.mark.parametrize("stage", DATA_STAGES)
def test_a_killed_stage_reruns_to_the_same_bytes(data_workspace, stage):
    root, seconds, reference = data_workspace
    rng = random.Random(f"faults:{stage}")  # seeded: a failure names a moment that can be replayed
    for _ in range(KILLS_PER_STAGE):
        moment = rng.uniform(0.1, 0.95) * seconds[stage]
        _kill_after([DVC, "repro", "--force", "--single-item", f"dvc.yaml:{stage}"], root, moment, tool_env())
        _recover(root)
        assert _out_hashes(root) == reference, f"{stage} killed at {moment:.2f} s: outputs changed"
        assert _leftovers(root) == [], f"{stage} killed at {moment:.2f} s"
    status = subprocess.run([DVC, "status", "tokenizer"], cwd=root, env=tool_env(), capture_output=True, text=True)
    assert "up to date" in status.stdout, status.stdout


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_dvc_lock_cut_by_a_kill_is_repaired_and_the_outputs_stay(data_workspace, keep):
    """DVC truncates dvc.lock, then writes it: CI's run of this suite killed dedup's `dvc repro` in between,
    and every later command failed. The cut here is inside a quoted path, so the YAML does not parse."""
    root, _, reference = data_workspace
    lock = (root / "dvc.lock").read_text()
    cut = lock.index("path: ", int(len(lock) * keep)) + len("path: ")
    (root / "dvc.lock").write_text(lock[:cut] + "'data/de")
    _recover(root)
    assert _out_hashes(root) == reference and _leftovers(root) == []


def test_a_killed_flow_reruns_to_the_same_bytes(data_workspace, prefect_server, tmp_path):
    """The flow killed while it runs the data stages (forced), then run again: it starts, finishes,
    and the outputs are those of the first run."""
    root, seconds, reference = data_workspace
    env = deploy.prefect_env(prefect_server, tmp_path / "prefect-home")
    flow = ["flows.pipeline", "--root", str(root), "--target", "tokenizer"]
    with FlowProcess([*flow, "--force"], env, tmp_path / "killed.log") as killed:
        killed.wait_for(r"crawl \| Running stage", timeout=120)
        time.sleep(random.Random("faults:flow").uniform(0.1, 0.9) * seconds["crawl"])
        killed.kill()
    with FlowProcess(flow, env, tmp_path / "next.log") as nxt:
        assert nxt.wait(timeout=600) == 0, nxt.text()[-6000:]
    assert _out_hashes(root) == reference
    assert _leftovers(root) == []
