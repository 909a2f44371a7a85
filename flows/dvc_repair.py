"""Repair what a killed `dvc` can leave behind, before the next run: a broken rwlock, stale temporaries.

DVC 3.67.1 rewrites `.dvc/tmp/rwlock` (which stages hold which paths) by truncating the file and
then writing it; a SIGKILL between the two leaves it empty, and from then on every DVC command
fails with "Unable to read RWLock-file ... JSON structure is corrupted" until someone deletes it
by hand (seen in 2 of ~85 kills during `dvc repro`). DVC edits that file only while holding
`.dvc/tmp/rwlock.lock` (a zc.lockfile, released by the OS when its process dies), so when that
guard can be taken no DVC process is using the file, and a file that does not parse is a leftover:
it is removed, which DVC reads as "no locks held". A file in use, or one that parses, is never
touched.

A killed stage also leaves its temporaries (`.tmp-<name>.<pid>.<token>` beside its outputs). The
stage's next write of that output removes them, but `dvc repro` may never run it again: when the
stage's inputs are unchanged DVC restores its outputs from the run cache. So the repair also
sweeps, beside every output of every stage, the temporaries whose writer is gone (never one whose
process is alive: crisol/core/atomic.py).

    python -m flows.dvc_repair [--root DIR]     (make repro runs it; the pipeline flow calls repair_workspace)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import zc.lockfile

from crisol.core.atomic import sweep_stale_in
from flows.dvc_graph import stage_outputs

RWLOCK = Path(".dvc/tmp/rwlock")
GUARD = Path(".dvc/tmp/rwlock.lock")


def _parses(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def repair_rwlock(root: Path | str) -> str | None:
    """Remove a corrupted rwlock no DVC process holds; return what was done, or None."""
    root = Path(root)
    path = root / RWLOCK
    if not path.is_file() or _parses(path):
        return None
    try:
        guard = zc.lockfile.LockFile(str(root / GUARD))
    except zc.lockfile.LockError:
        return None  # a DVC process is editing it right now: not ours to touch
    try:
        if _parses(path):  # rewritten whole while we waited for the guard
            return None
        path.unlink()
        return f"removed {RWLOCK}: it was corrupted (a killed dvc left it half-written) and no DVC process held it"
    finally:
        guard.close()


def sweep_temporaries(root: Path | str) -> list[Path]:
    """Remove the temporaries a killed stage left beside any stage output; returns what went."""
    from dvc.exceptions import DvcException

    try:
        outputs = stage_outputs(root)
    except DvcException:  # a broken dvc.yaml: the run that follows says what is wrong with it
        return []
    removed: list[Path] = []
    for parent in sorted({out.parent for out in outputs}):
        removed += sweep_stale_in(parent)
    return removed


def repair_workspace(root: Path | str) -> list[str]:
    """Both repairs; returns one line per thing done."""
    done = [line] if (line := repair_rwlock(root)) else []
    done += [f"removed {path}: a temporary left by a killed run" for path in sweep_temporaries(root)]
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.dvc_repair", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    for line in repair_workspace(parser.parse_args(argv).root):
        print(f"dvc_repair: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
