"""A flow run as its own process (`python -m flows.<name> ...`), as a user starts one from a shell: in
its own process group, so a test can kill it and everything it started at once, as Ctrl-C or a reboot
would; its console log (Prefect's lines and the stages' output) goes to a file a test can wait on."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from kit.paths import REPO_ROOT


class FlowProcess:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of `pattern` in the log, waiting up to `timeout` s; fails with the log."""
        deadline = time.monotonic() + timeout
        while not (match := re.search(pattern, self.text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                state = f"exited {self.proc.returncode}" if self.proc.poll() is not None else f"{timeout:g} s passed"
                raise AssertionError(f"no line matching {pattern!r} ({state}); log:\n{self.text()[-6000:]}")
            time.sleep(0.2)
        return match

    def wait(self, timeout: float) -> int:
        """Its exit status, waiting up to `timeout` s; past that it is killed and the test fails."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the flow run did not end within {timeout:g} s; log:\n{self.text()[-6000:]}")

    def kill(self) -> None:
        """SIGKILL the run and every process it started (its process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is gone already
        self.proc.wait()

    def __enter__(self) -> FlowProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        self._log.close()
