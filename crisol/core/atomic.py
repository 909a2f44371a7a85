"""Atomic outputs: write beside the target under a temporary name, then rename into place.

A stage killed mid-write leaves only a `.tmp-*` sibling, never a complete-looking artifact, and
the next write of the same output removes it (`sweep_stale`): every temporary is named
`.tmp-<output name>.<pid>.<token>` after the output it stands for and the process writing it, so
a sweep removes only its own output's temporaries, and only those whose process is gone. A
temporary of a live process is left alone: two runs writing one output at once (a stage started
by hand beside `dvc repro`) must not pull the directory from under each other; the last rename
still wins, as before. The pid is checked on this machine: a writer on another host sharing the
filesystem must not write the same output (no stage's main process does).
`os.replace` is atomic for files on POSIX; a directory is swapped with two renames, and the old
copy is removed only after the new one is in place. Append-only logs (`append_jsonl`) get each
batch of records in one write, so a crash leaves at most a torn last line for the reader to skip.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from crisol.core.processes import alive

TMP_PREFIX = ".tmp-"
OLD = "old"  # the token of a replaced directory, kept until its successor is in place
log = logging.getLogger("crisol.atomic")


def _stale_pattern(name: str) -> re.Pattern:
    # One token after the pid (tempfile's 8 characters, token_hex's 8, or "old"): another output
    # whose name merely starts with this one's (`documents.5`, `documents.json`) never matches.
    return re.compile(rf"{re.escape(TMP_PREFIX)}{name}\.(\d+)\.(?:{OLD}|[a-z0-9_]{{8}})")


def _sweep(directory: Path, pattern: re.Pattern, owner: str) -> list[Path]:
    """Remove the entries of `directory` that `pattern` matches (group 1: the writer's pid) and
    whose writer is gone."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    removed = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or alive(int(match.group(1))):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
        log.warning("removed %s: a temporary of %s left by process %s, which is gone", path, owner, match.group(1))
    return removed


def sweep_stale(target: Path | str) -> list[Path]:
    """Remove the temporaries of `target` (its siblings `.tmp-<name>.<pid>.<token>`) whose writing
    process is gone: left by a run that was killed. Returns what was removed, and logs it."""
    target = Path(target)
    return _sweep(target.parent, _stale_pattern(re.escape(target.name)), str(target))


def sweep_stale_in(directory: Path | str) -> list[Path]:
    """Remove every temporary in `directory` whose writer is gone, whatever output or work it was
    for (an output restored from DVC's run cache is never rewritten, so its own sweep never runs)."""
    directory = Path(directory)
    return _sweep(directory, _stale_pattern(r"[^/]+?"), f"an output in {directory}")


def temp_dir(parent: Path | str, name: str) -> Path:
    """A new directory in `parent` for work named `name` (an output's name, or a stage's own work
    such as `dedup-work`), after sweeping the temporaries a killed run left under that name."""
    parent = Path(parent)
    sweep_stale(parent / name)
    return Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{name}.{os.getpid()}.", dir=parent))


def fsync_dir(path: Path | str) -> None:
    """Make a rename or a new entry in directory `path` durable (the entry, not just the file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_temp_file(target: Path) -> Path:
    """An empty file beside `target` under a fresh temporary name. Created as `open()` would, with
    the umask's permissions: mkstemp's owner-only mode would be kept by the renamed output."""
    while True:
        tmp = target.with_name(f"{TMP_PREFIX}{target.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_file(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path; on clean exit it replaces `target`, on error it is deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = _new_temp_file(target)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Yield an empty temporary directory; on clean exit it becomes `target` (replacing it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(target.parent, target.name)
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f"{TMP_PREFIX}{target.name}.{os.getpid()}.{OLD}")
            os.replace(target, old)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(target: Path | str, payload: Any) -> None:
    """Write JSON atomically (sorted keys, so DVC sees no spurious change)."""
    with atomic_file(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_text(target: Path | str, text: str) -> None:
    with atomic_file(target) as tmp:
        tmp.write_text(text)


def append_jsonl(target: Path | str, records: list[dict[str, Any]]) -> None:
    """Append `records` to a JSONL log, one line each, in one O_APPEND write, then fsync: records
    are never interleaved with another writer's, and a crash tears at most the last line."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records).encode()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
