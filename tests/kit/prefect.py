"""A real `prefect server start` on a free loopback port, as a context manager: the session's shared
server (conftest.py), the one serving the UI for the browser test, and the one with services that
the event-trigger test needs all start the same way."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def prefect_server(home: Path, *, ui: bool = False, services: bool = False) -> Iterator[str]:
    """Start a server whose database lives in `home`; yields its API URL and stops it after.
    Without services no scheduler or trigger runs (and no task runs are recorded); without the UI
    only the API is served. The UI is pointed at this server's API (else it calls port 4200)."""
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{free_port()}/api"
    env = dict(
        os.environ,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_URL=url if ui else "",
        PREFECT_UI_API_URL=url,
    )
    args = ["--host", "127.0.0.1", "--port", url.split(":")[-1].split("/")[0]]
    args += [] if services else ["--no-services"]
    args += [] if ui else ["--no-ui"]
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server did not start; log:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
