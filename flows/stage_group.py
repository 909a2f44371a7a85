"""Stages a killed flow left running are stopped before the next run touches the workspace.

The flow runs each stage as `dvc repro` in a process group of its own, and names that group in
`data/.workspace.stages` while it runs. Killed with SIGKILL alone (not its whole process group, as
a Ctrl-C or a reboot would), the flow dies and its dvc and the stage under it run on, orphaned:
the next run would take the workspace lock and then fail on DVC's lock, or run the same stage
beside it. So the next holder of the workspace lock reads the file, and stops what is still
running in that group (SIGTERM, then SIGKILL after a grace period), saying so. Only processes of
that group whose working directory is inside the workspace are touched, so a process group id the
system has since given to someone else is never signalled.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from crisol.core.processes import stat_fields

GROUP_FILE = Path("data/.workspace.stages")
GRACE_S = 10.0


def note_stage_group(root: Path | str, pgid: int | None) -> None:
    """Name the process group now running a stage (None: no stage is running)."""
    path = Path(root) / GROUP_FILE
    if pgid is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(f"{pgid}\n")


def _members(pgid: int, root: Path) -> list[int]:
    """Live processes of group `pgid` working inside `root` (Linux /proc; elsewhere none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is None:
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid and cwd.is_relative_to(root):
            found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_leftover_stages(root: Path | str, logger: logging.Logger | logging.LoggerAdapter) -> list[int]:
    """Stop what a killed run left running in the workspace; returns the pids stopped."""
    root = Path(root).resolve()
    path = root / GROUP_FILE
    try:
        pgid = int(path.read_text().strip())
    except (OSError, ValueError):
        return []
    pids = _members(pgid, root)
    if pids:
        logger.warning("stopping processes %s: stages a killed flow run left running (process group %d)", pids, pgid)
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        while (alive := _members(pgid, root)) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_all(alive, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return pids
