"""Helpers for the deployment tests: a toy DVC workspace, the Prefect CLI against a test server,
and a process worker on the crisol-local pool. Never runs the real pipeline: every run these
tests start names the toy workspace as its `root`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from flows.pipeline import dvc_executable
from kit.paths import REPO_ROOT

BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect") if (BIN / "prefect").exists() else "prefect"
LOCAL_POOL = "crisol-local"

# Two stages; make_a waits while a file `hold` exists (at most 2 minutes), so a test can keep a
# run inside its stages until a second run has surely started: overlap by construction, not timing.
# Other toy graphs (tests/flows/test_pipeline.py) append their own stages to it.
TOY_DVC_YAML = textwrap.dedent("""\
    stages:
      make_a:
        cmd: python -c "import pathlib, time, yaml; n = yaml.safe_load(open('params.yaml'))['toy']['n']; end = time.time() + 120; [time.sleep(0.2) for _ in iter(lambda:pathlib.Path('hold').exists() and time.time() < end, False)]; pathlib.Path('a.txt').write_text('a' * n)"
        params:
          - toy.n
        outs:
          - a.txt
      make_b:
        cmd: python -c "import pathlib; print('hello from make_b', flush=True); pathlib.Path('b.txt').write_text(pathlib.Path('a.txt').read_text() + 'b')"
        deps:
          - a.txt
        outs:
          - b.txt
    """)  # noqa: E501  (a dvc.yaml's one-line commands)


def make_toy_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dvc.yaml").write_text(TOY_DVC_YAML)
    (path / "params.yaml").write_text("toy:\n  n: 2\n")
    subprocess.run([dvc_executable(), "init", "--no-scm", "-q"], cwd=path, check=True)
    return path


def prefect_env(api_url: str, home: Path) -> dict[str, str]:
    """Environment for the Prefect CLI and workers: this server, a private PREFECT_HOME, fast polls."""
    home.mkdir(parents=True, exist_ok=True)
    return dict(
        os.environ,
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT=PREFECT,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `prefect <args>` non-interactively from the repo root; fail with its output."""
    proc = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"prefect {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


def create_work_pools(env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["bash", "infra/work_pools.sh"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"infra/work_pools.sh exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc.stdout


class Worker:
    """`prefect worker start --pool crisol-local` in its own process group (its flow-run
    subprocesses included), stopped on exit."""

    def __init__(self, env: dict[str, str], log_path: Path, pool: str = LOCAL_POOL):
        self.env, self.log_path, self.pool = env, log_path, pool
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Worker:
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", self.pool, "--type", "process"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_until_polling(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "started!" not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start; log:\n{self.log_text()}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return self.log_path.read_text()[-6000:]

    def __exit__(self, *exc) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group: the worker and its runs
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
