"""The workspace lock: a flow run killed while it holds the lock never blocks the next run, and a run
that must wait says who holds the lock (flow run, pid, host) and since when."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from kit import deploy
from kit.flow_process import FlowProcess
from kit.paths import REPO_ROOT

# make_a waits while the toy workspace's `hold` file exists, so a run stays inside its lock until the test lets go.
RUN_MAKE_A = ["flows.pipeline", "--target", "make_a"]
NEXT_RUN_LIMIT_S = 60  # the bound: a new run after a killed one starts and completes within it


def _run(toy, env, log_path) -> FlowProcess:
    return FlowProcess([*RUN_MAKE_A, "--root", str(toy)], env, log_path)


def test_a_flow_run_killed_holding_the_lock_never_blocks_the_next_run(prefect_server, tmp_path):
    toy = deploy.make_toy_repo(tmp_path / "toy")
    env = deploy.prefect_env(prefect_server, tmp_path / "prefect-home")
    (toy / "hold").touch()
    with _run(toy, env, tmp_path / "killed.log") as killed:
        killed.wait_for(r"make_a \| Running stage", timeout=90)  # inside the lock, its stage running
        killed.kill()  # SIGKILL, the run and the dvc it started
    (toy / "hold").unlink()
    start = time.monotonic()
    with _run(toy, env, tmp_path / "next.log") as nxt:
        status = nxt.wait(timeout=NEXT_RUN_LIMIT_S)
        assert status == 0, nxt.text()[-6000:]
    assert time.monotonic() - start < NEXT_RUN_LIMIT_S
    assert (toy / "a.txt").read_text() == "aa"


def test_a_waiting_run_says_who_holds_the_lock_and_since_when(prefect_server, tmp_path):
    toy = deploy.make_toy_repo(tmp_path / "toy")
    env = deploy.prefect_env(prefect_server, tmp_path / "prefect-home")
    (toy / "hold").touch()
    with _run(toy, env, tmp_path / "holder.log") as holder:
        holder.wait_for(r"make_a \| Running stage", timeout=90)  # the waiter starts only once this one holds
        name = holder.wait_for(r"Beginning flow run '([^']+)'", timeout=5).group(1)
        with _run(toy, env, tmp_path / "waiter.log") as waiter:
            line = waiter.wait_for(r"waiting for the workspace lock[^\n]*", timeout=60).group(0)
            assert f"flow run '{name}'" in line and f"pid {holder.pid}" in line, line
            assert f"on {socket.gethostname()}" in line, line
            assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line), line
            (toy / "hold").unlink()
            assert holder.wait(timeout=60) == 0, holder.text()[-6000:]
            assert waiter.wait(timeout=60) == 0, waiter.text()[-6000:]
    assert "took the workspace lock" in waiter.text()


def test_the_lock_is_free_the_moment_its_holder_dies(tmp_path):
    from flows.workspace_lock import current_holder

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import logging, sys, time; from flows.workspace_lock import workspace_lock\n"
            "with workspace_lock(sys.argv[1], logging.getLogger()):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert f"pid {holder.pid} on {socket.gethostname()}" in current_holder(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert current_holder(tmp_path) is None


def test_a_waiter_reports_when_it_starts_waiting_and_again_every_interval(tmp_path, caplog):
    from flows.workspace_lock import current_holder, workspace_lock

    logger = logging.getLogger("test-workspace-lock")
    took = threading.Event()

    def wait_then_take():
        with workspace_lock(tmp_path, logger, report_every_s=0.2, poll_s=0.05):
            took.set()

    with caplog.at_level(logging.INFO, logger=logger.name):
        with workspace_lock(tmp_path, logging.getLogger("holder")):
            waiter = threading.Thread(target=wait_then_take)
            waiter.start()
            time.sleep(0.7)
            assert not took.is_set(), "the lock let a second holder in"
        waiter.join(timeout=10)
    assert took.is_set() and current_holder(tmp_path) is None
    messages = [r.getMessage() for r in caplog.records if r.name == logger.name]
    assert messages[0].startswith("waiting for the workspace lock"), messages
    assert f"pid {os.getpid()} on {socket.gethostname()} since " in messages[0], messages
    assert sum(m.startswith("still waiting for the workspace lock") for m in messages) >= 2, messages
    assert messages[-1].startswith("took the workspace lock after waiting"), messages


def test_a_flow_killed_alone_leaves_no_stage_running_into_the_next_run(prefect_server, tmp_path):
    """SIGKILL to the flow's process only (not its group): its dvc and stage run on, orphaned. The
    next run stops them (they would hold DVC's lock, or write the same outputs beside it), says so,
    then starts and completes within the bound."""
    toy = deploy.make_toy_repo(tmp_path / "toy")
    env = deploy.prefect_env(prefect_server, tmp_path / "prefect-home")
    (toy / "hold").touch()
    with _run(toy, env, tmp_path / "killed.log") as killed:
        killed.wait_for(r"make_a \| Running stage", timeout=90)
        os.kill(killed.pid, signal.SIGKILL)  # the flow alone
        killed.proc.wait()
    from flows.stage_group import GROUP_FILE, _members

    group = int((toy / GROUP_FILE).read_text())
    assert _members(group, toy.resolve()), "the orphaned stage should still be running before the next run"
    start = time.monotonic()
    with _run(toy, env, tmp_path / "next.log") as nxt:
        nxt.wait_for(r"stages a killed flow run left running", timeout=NEXT_RUN_LIMIT_S)
        (toy / "hold").unlink()
        status = nxt.wait(timeout=NEXT_RUN_LIMIT_S)
        assert status == 0, nxt.text()[-6000:]
    assert time.monotonic() - start < NEXT_RUN_LIMIT_S
    assert (toy / "a.txt").read_text() == "aa"
    assert _members(group, toy.resolve()) == [], "the next run stopped the orphans"
    assert not (toy / GROUP_FILE).exists()
