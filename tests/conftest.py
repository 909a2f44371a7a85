"""Shared fixtures. One real Prefect server for the whole session (starting one costs ~10 s)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dask_cluster():
    """A Dask LocalCluster on loopback (2 worker processes), shared by the executor tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        yield cluster


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` on loopback, shared by every test that needs Prefect."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL="")
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--no-services", "--no-ui"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"prefect server did not start; log:\n{(home / 'server.log').read_text()[-3000:]}")
        time.sleep(0.3)
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    os.environ["PREFECT_API_URL"] = url  # for subprocesses the tests start
    with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)}):
        yield url
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)  # send buffered task logs before the server goes away
    os.environ.pop("PREFECT_API_URL", None)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def rlhf_pipeline(tmp_path_factory):
    """SFT, reward and ppo run once on the micro world with small models, shared by the reward,
    ppo and evaluate stage tests: paths of each stage's outputs and of the inputs."""
    from rlhf_testkit import build_pipeline
    return build_pipeline(tmp_path_factory)
