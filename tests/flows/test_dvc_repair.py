"""A killed dvc that left `.dvc/tmp/rwlock` or `dvc.lock` half-written no longer blocks every later DVC
command: the flow and `make repro` repair them when no DVC process holds them, and leave them alone otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import zc.lockfile

from flows.dvc_repair import GUARD, LOCKFILE, REPO_GUARD, RWLOCK, repair_lockfile, repair_rwlock
from flows.pipeline import dvc_executable, tool_env


@pytest.fixture
def repo(tmp_path):
    subprocess.run([dvc_executable(), "init", "--no-scm", "-q"], cwd=tmp_path, env=tool_env(), check=True)
    (tmp_path / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo a > a.txt\n    outs:\n      - a.txt\n")
    (tmp_path / RWLOCK).parent.mkdir(parents=True, exist_ok=True)
    return tmp_path


def dvc_status(root):
    return subprocess.run([dvc_executable(), "status"], cwd=root, env=tool_env(), capture_output=True, text=True)


def test_an_empty_rwlock_left_by_a_kill_is_removed_and_dvc_works_again(repo):
    (repo / RWLOCK).write_text("")
    broken = dvc_status(repo)
    assert broken.returncode != 0 and "corrupted" in broken.stderr + broken.stdout
    result = subprocess.run(
        [sys.executable, "-m", "flows.dvc_repair", "--root", str(repo)], capture_output=True, text=True
    )
    assert result.returncode == 0 and "removed .dvc/tmp/rwlock" in result.stderr
    assert not (repo / RWLOCK).exists() and dvc_status(repo).returncode == 0
    assert repair_rwlock(repo) is None  # nothing left to do


def test_a_valid_rwlock_is_never_touched(repo):
    (repo / RWLOCK).write_text('{"read": {}, "write": {}}')
    assert repair_rwlock(repo) is None and (repo / RWLOCK).read_text() == '{"read": {}, "write": {}}'


def test_a_corrupted_rwlock_a_dvc_process_holds_is_left_alone(repo):
    (repo / RWLOCK).write_text("{")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, zc.lockfile; "
            "lock = zc.lockfile.LockFile(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(repo / GUARD),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert repair_rwlock(repo) is None and (repo / RWLOCK).read_text() == "{"
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert repair_rwlock(repo) is not None and not (repo / RWLOCK).exists()


def test_temporaries_a_killed_stage_left_are_swept_even_when_dvc_restores_from_its_run_cache(repo):
    """The stage's own next write sweeps its temporaries, but DVC may restore its outputs from the run
    cache instead of running it: the repair sweeps beside every output, sparing live writers'."""
    (repo / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: echo a > out/a.txt\n    outs:\n      - out/a.txt\n      - out/b\n"
    )
    out = repo / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = [out / f".tmp-b.{dead.pid}.old", out / f".tmp-dedup-work.{dead.pid}.k3j9x0aa"]
    left[0].mkdir()
    left[1].mkdir()
    (left[1] / "part-0.parquet").write_bytes(b"x")
    live = out / f".tmp-a.txt.{os.getpid()}.0123abcd"  # a writer still at work
    live.write_text("")
    users = [out / ".tmp-notes", out / "keep.txt", repo / f".tmp-x.{dead.pid}.abcdefgh"]  # not beside an output
    for path in users:
        path.write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "flows.dvc_repair", "--root", str(repo)], capture_output=True, text=True, check=True
    )
    assert not any(path.exists() for path in left), result.stderr
    assert live.exists() and all(path.read_text() == "mine" for path in users)
    assert result.stderr.count("a temporary left by a killed run") == 2, result.stderr


# empty, or cut inside a quoted string (a lock cut where the YAML still parses is no failure: DVC sees
# changed hashes and restores or reruns the stage by itself)
@pytest.mark.parametrize("left", ["", "schema: '2.0'\nstages:\n  a:\n    cmd: 'cp in"])
def test_a_dvc_lock_a_kill_left_half_written_is_moved_aside_and_the_run_cache_restores_it(repo, left):
    """DVC rewrites dvc.lock by truncating it and then writing it: a SIGKILL between the two (seen in CI's
    fault-injection run) left every later command failing with "dvc.lock validation failed"."""
    (repo / "in.txt").write_text("a\n")  # a stage with no dependency always runs: no run cache
    (repo / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: cp in.txt a.txt\n    deps:\n      - in.txt\n    outs:\n      - a.txt\n"
    )
    repro = [dvc_executable(), "repro"]
    assert subprocess.run(repro, cwd=repo, env=tool_env(), capture_output=True).returncode == 0
    (repo / "a.txt").unlink()  # the restore below must come from the run cache, not the workspace
    (repo / LOCKFILE).write_text(left)
    assert dvc_status(repo).returncode != 0
    result = subprocess.run(
        [sys.executable, "-m", "flows.dvc_repair", "--root", str(repo)], capture_output=True, text=True
    )
    assert result.returncode == 0 and "moved dvc.lock to .dvc/tmp/dvc.lock.corrupt" in result.stderr
    assert (repo / ".dvc/tmp/dvc.lock.corrupt").read_text() == left  # kept for whoever wants to look
    rerun = subprocess.run(repro, cwd=repo, env=tool_env(), capture_output=True, text=True)
    assert rerun.returncode == 0 and "Running stage" not in rerun.stdout, rerun.stdout + rerun.stderr
    assert (repo / "a.txt").read_text() == "a\n" and dvc_status(repo).returncode == 0
    assert repair_lockfile(repo) is None  # nothing left to do


def test_a_valid_dvc_lock_and_one_being_written_are_never_touched(repo):
    assert subprocess.run([dvc_executable(), "repro"], cwd=repo, env=tool_env(), capture_output=True).returncode == 0
    written = (repo / LOCKFILE).read_text()
    assert repair_lockfile(repo) is None and (repo / LOCKFILE).read_text() == written
    (repo / LOCKFILE).write_text("")
    held = zc.lockfile.LockFile(str(repo / REPO_GUARD))  # as a dvc process holds the repository
    try:
        assert repair_lockfile(repo) is None and (repo / LOCKFILE).read_text() == ""
    finally:
        held.close()
    assert repair_lockfile(repo) is not None
