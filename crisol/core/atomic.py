"""Atomic outputs: write beside the target under a temporary name, then rename into place.

A stage killed mid-write leaves only a `.tmp-*` sibling, never a complete-looking artifact.
`os.replace` is atomic for files on POSIX; a directory is swapped with two renames, and the old
copy is removed only after the new one is in place. Append-only logs (`append_jsonl`) get each
batch of records in one write, so a crash leaves at most a torn last line for the reader to skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

TMP_PREFIX = ".tmp-"


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
        tmp = target.with_name(f"{TMP_PREFIX}{target.name}.{secrets.token_hex(4)}")
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
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}.", dir=target.parent))
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f"{TMP_PREFIX}{target.name}.old-{os.getpid()}")
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
