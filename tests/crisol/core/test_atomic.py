"""Atomic outputs: a process killed mid-write leaves no complete-looking artifact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from crisol.core.atomic import atomic_dir, atomic_file, write_json
from crisol.core.processes import is_zombie
from kit.paths import REPO_ROOT

WRITER = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from crisol.core.atomic import atomic_dir, atomic_file
    kind, target = sys.argv[1], Path(sys.argv[2])
    opener = atomic_dir if kind == "dir" else atomic_file
    with opener(target) as tmp:
        if kind == "dir":
            (tmp / "part-00000.parquet").write_bytes(b"x" * 1000)
        else:
            tmp.write_bytes(b"x" * 1000)
        print("writing", flush=True)
        time.sleep(60)
    """)


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_killed_writer_leaves_no_output(tmp_path, kind):
    target = tmp_path / "out" / ("documents" if kind == "dir" else "metrics.json")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    leftovers = [p.name for p in target.parent.iterdir()]
    assert leftovers and all(name.startswith(".tmp-") for name in leftovers)


def test_error_inside_keeps_previous_output(tmp_path):
    target = tmp_path / "docs"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "a").write_text("new")
            raise RuntimeError("stage failed")
    assert (target / "a").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["docs"]


def test_replace_file_and_json(tmp_path):
    target = tmp_path / "m.json"
    write_json(target, {"b": 1, "a": 2})
    assert target.read_text().index('"a"') < target.read_text().index('"b"')
    with atomic_file(target) as tmp:
        tmp.write_text("replaced")
    assert target.read_text() == "replaced"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def _killed_writer(kind: str, target) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_the_next_write_sweeps_a_killed_writers_temporaries_only(tmp_path, kind):
    """A killed writer's `.tmp-<name>.*` goes with the next write of the same output; a live
    writer's, another output's and a file the output does not own stay."""
    target = tmp_path / ("documents" if kind == "dir" else "metrics.json")
    _killed_writer(kind, target)
    stale = [p.name for p in tmp_path.iterdir()]
    live = subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    try:
        assert live.stdout.readline().strip() == "writing"
        live_tmp = {p.name for p in tmp_path.iterdir()} - set(stale)
        others = [".tmp-other", f".tmp-{target.name}x.12.abcdefgh", f".tmp-{target.name}.d.12.abcdefgh"]
        for name in others:
            (tmp_path / name).write_text("not this output's")
        opener = atomic_dir if kind == "dir" else atomic_file
        with opener(target) as tmp:
            if kind == "file":
                tmp.write_text("done")
        left = {p.name for p in tmp_path.iterdir()}
        assert len(stale) == 1 and len(live_tmp) == 1
        assert left == {target.name, *live_tmp, *others}
    finally:
        live.kill()
        live.wait()


def test_a_killed_writer_not_yet_reaped_counts_as_gone(tmp_path):
    """An orphaned stage killed with its dvc stays a zombie until init reaps it (slowly, in a
    container): it answers signals, but its temporaries are stale all the same."""
    import time

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while not is_zombie(zombie.pid):
        time.sleep(0.05)
    stale = tmp_path / f".tmp-out.json.{zombie.pid}.0123abcd"
    stale.write_text("half")
    write_json(tmp_path / "out.json", {"a": 1})
    zombie.wait()
    assert not stale.exists()
