"""One flow run at a time in a workspace: an OS file lock, released by the kernel when its holder dies.

The flows (flows/pipeline.py, flows/scaling.py) change params.yaml, dvc.yaml and the outputs, so two
runs in one workspace must not overlap. The lock is `flock` on `data/.workspace.lock`: the kernel
drops it the moment the holding process dies, however it dies (Ctrl-C, SIGKILL, a reboot), so a
killed run never blocks the next one. (A Prefect global concurrency limit did this before: a killed
run's slot stayed taken until the server's repossessor service revoked its expired lease, about 5 minutes
later, and for ever on a server without that service (`--no-services`) or one restarted meanwhile,
since Prefect 3.9's lease storage is in memory.) The file sits in data/, beside the outputs it
guards, so containers that mount one data volume share it too. It is never deleted (a waiter may
hold it open).

The holder writes who it is into the file (flow run, pid, host, since when); a run that must wait
logs that when it starts waiting and every 30 s, and how long it waited once it has the lock.
The retrain flow holds the same kind of lock on its registry (`held_lock`).
Not re-entrant: a process that holds the lock and asks again waits for itself (and says so).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

LOCK_FILE = Path("data/.workspace.lock")
REPORT_EVERY_S = 30.0  # how often a waiting run says again what it waits for
POLL_S = 0.5  # a non-blocking try this often: a blocking flock could not log while it waits


def _whoami() -> dict[str, object]:
    """This holder: its flow run (when inside one), pid, host and start time."""
    from prefect.runtime import flow_run

    return {
        "flow": flow_run.flow_name,
        "flow_run": flow_run.name,
        "flow_run_id": flow_run.id,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def describe(holder: dict[str, object] | None) -> str:
    """A holder as one phrase for a log line."""
    if not holder:
        return "a holder that has not written its name yet"
    run = (
        f"flow run '{holder['flow_run']}' ({holder['flow']}, id {holder['flow_run_id']}), "
        if holder.get("flow_run")
        else ""
    )
    return f"{run}pid {holder['pid']} on {holder['host']} since {holder['since']}"


def _read_holder(fd: int) -> dict[str, object] | None:
    try:
        holder = json.loads(os.pread(fd, 64 * 1024, 0).decode("utf-8"))
    except ValueError:  # empty (free, or its holder is between taking it and writing its name)
        return None
    return holder if isinstance(holder, dict) else None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by the stages' subprocesses (PEP 446)


def _wait(
    fd: int, what: str, path: Path, logger: logging.Logger | logging.LoggerAdapter, report_every_s: float, poll_s: float
) -> None:
    """Block until `fd` holds the lock, logging the holder now and every `report_every_s`."""
    began = time.monotonic()
    waiting_since = datetime.now().astimezone().isoformat(timespec="seconds")
    logger.info("waiting for %s %s: held by %s", what, path, describe(_read_holder(fd)))
    next_report = began + report_every_s
    while not _try_lock(fd):
        time.sleep(poll_s)
        if time.monotonic() >= next_report:
            next_report += report_every_s
            logger.info(
                "still waiting for %s %s (since %s, %.0f s): held by %s",
                what,
                path,
                waiting_since,
                time.monotonic() - began,
                describe(_read_holder(fd)),
            )
    logger.info("took %s after waiting %.0f s", what, time.monotonic() - began)


@contextlib.contextmanager
def held_lock(
    path: Path,
    logger: logging.Logger | logging.LoggerAdapter,
    *,
    what: str,
    report_every_s: float = REPORT_EVERY_S,
    poll_s: float = POLL_S,
) -> Iterator[None]:
    """Hold the file lock `path` for the block, waiting (and saying so, naming it `what`) while
    another process holds it."""
    fd = _open(path)
    try:
        if not _try_lock(fd):
            _wait(fd, what, path, logger, report_every_s, poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_whoami()).encode("utf-8"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # free again: nobody's name in it
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def workspace_lock(
    root: Path | str,
    logger: logging.Logger | logging.LoggerAdapter,
    *,
    report_every_s: float = REPORT_EVERY_S,
    poll_s: float = POLL_S,
) -> contextlib.AbstractContextManager[None]:
    """Hold the workspace's lock for the block, waiting (and saying so) while another run holds it."""
    return held_lock(
        Path(root) / LOCK_FILE, logger, what="the workspace lock", report_every_s=report_every_s, poll_s=poll_s
    )


def current_holder(root: Path | str) -> str | None:
    """Who holds the workspace lock (a phrase, as a waiter logs it), or None when it is free."""
    fd = _open(Path(root) / LOCK_FILE)
    try:
        if _try_lock(fd):
            return None
        return describe(_read_holder(fd))
    finally:
        os.close(fd)
