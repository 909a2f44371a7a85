"""Repair what a killed `dvc` can leave behind, before the next run: a broken rwlock or dvc.lock, stale
temporaries.

DVC 3.67.1 rewrites `.dvc/tmp/rwlock` (which stages hold which paths) by truncating the file and
then writing it; a SIGKILL between the two leaves it empty, and from then on every DVC command
fails with "Unable to read RWLock-file ... JSON structure is corrupted" until someone deletes it
by hand (seen in 2 of ~85 kills during `dvc repro`). DVC edits that file only while holding
`.dvc/tmp/rwlock.lock` (a zc.lockfile, released by the OS when its process dies), so when that
guard can be taken no DVC process is using the file, and a file that does not parse is a leftover:
it is removed, which DVC reads as "no locks held". A file in use, or one that parses, is never
touched.

DVC 3.67.1 writes `dvc.lock` the same way (open with "w+", then dump), after a stage has run, while it
holds the repository lock `.dvc/tmp/lock` (another zc.lockfile). A kill in between left it empty in
CI's fault-injection run, and every later command failed with "dvc.lock validation failed". When the
repository lock can be taken and the file does not pass DVC's own schema, it is moved to
`.dvc/tmp/dvc.lock.corrupt` (kept for a look, never deleted), and the next `dvc repro` finds each
stage whose inputs are unchanged in its run cache and restores it without running it.

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
LOCKFILE = Path("dvc.lock")
REPO_GUARD = Path(".dvc/tmp/lock")
LOCKFILE_ASIDE = Path(".dvc/tmp/dvc.lock.corrupt")


def _parses(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def _lockfile_valid(path: Path) -> bool:
    from dvc.exceptions import DvcException
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from dvc.utils import strictyaml

    try:
        strictyaml.load(str(path), COMPILED_LOCKFILE_SCHEMA)
    except DvcException:  # not YAML, not UTF-8, or not DVC's schema
        return False
    return True


def _repair_under(root: Path, path: Path, guard: Path, is_sound, fix) -> str | None:
    """`fix(path)` when `path` exists, is not sound, and `guard` (the lock DVC holds while it writes
    `path`) can be taken, i.e. no DVC process is writing it; returns what `fix` says, or None."""
    if not path.is_file() or is_sound(path):
        return None
    try:
        held = zc.lockfile.LockFile(str(root / guard))
    except zc.lockfile.LockError:
        return None  # a DVC process is at work on it right now: not ours to touch
    try:
        return None if is_sound(path) else fix(path)  # sound again: rewritten whole while we took the guard
    finally:
        held.close()


def repair_rwlock(root: Path | str) -> str | None:
    """Remove a corrupted rwlock no DVC process holds; return what was done, or None."""

    def remove(path: Path) -> str:
        path.unlink()
        return f"removed {RWLOCK}: it was corrupted (a killed dvc left it half-written) and no DVC process held it"

    return _repair_under(Path(root), Path(root) / RWLOCK, GUARD, _parses, remove)


def repair_lockfile(root: Path | str) -> str | None:
    """Move aside a dvc.lock that fails DVC's schema while no DVC process holds the repository."""

    def move_aside(path: Path) -> str:
        path.replace(Path(root) / LOCKFILE_ASIDE)
        return (
            f"moved {LOCKFILE} to {LOCKFILE_ASIDE}: it does not parse (a killed dvc left it half-written); "
            "each stage is restored from DVC's run cache, or rerun where that has no entry"
        )

    return _repair_under(Path(root), Path(root) / LOCKFILE, REPO_GUARD, _lockfile_valid, move_aside)


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
    """Every repair; returns one line per thing done."""
    done = [line for line in (repair_rwlock(root), repair_lockfile(root)) if line]
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
