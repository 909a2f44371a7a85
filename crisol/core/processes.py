"""What /proc says of a process: its state fields, and whether it can still do anything."""

from __future__ import annotations

import os
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first, then ppid, pgrp, ...);
    None when the process is gone or there is no /proc (not Linux). The name sits in parentheses and
    may hold spaces and parentheses itself, hence the split at the last one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def is_zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet (an orphan waits for init, which in a
    container may be slow to come): it answers signals but will never do anything again."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] == "Z"


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (another user's process counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not is_zombie(pid)
