"""Fixtures shared by every test (helpers that are not fixtures live in the kit, tests/kit/).
One real Prefect server for the whole session (starting one costs ~10 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kit.paths import SHARED_DATA
from kit.prefect import prefect_server as start_prefect_server

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")  # as the Makefile: busy CI cores


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dask_cluster():
    """A Dask LocalCluster on loopback (2 worker processes), shared by the executor tests."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` on loopback, shared by every test that needs Prefect."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    with start_prefect_server(home) as url:
        os.environ["PREFECT_API_URL"] = url  # for subprocesses the tests start
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)}):
            yield url
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=5)  # send buffered task logs before the server goes away
        os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def rlhf_pipeline(tmp_path_factory):
    """SFT, reward and ppo run once on the micro world with small models, shared by the reward,
    ppo and evaluate stage tests: paths of each stage's outputs and of the inputs."""
    from kit.rlhf import build_pipeline

    return build_pipeline(tmp_path_factory)


@pytest.fixture(scope="session")
def prefect_server_ui(tmp_path_factory):
    """A second real `prefect server start`, this one serving the UI (V2 at /v2, V1 at /), for the
    browser test. Its API URL is yielded and NOT made the session's default: tests talk to it
    through explicit settings and subprocess environments."""
    with start_prefect_server(tmp_path_factory.mktemp("prefect-home-ui"), ui=True) as url:
        yield url
