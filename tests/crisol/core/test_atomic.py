"""Atomic outputs: a process killed mid-write leaves no complete-looking artifact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from crisol.core.atomic import atomic_dir, atomic_file, write_json
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
