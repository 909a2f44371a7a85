"""Running the sweep's pretraining runs: each a `python -m stages.pretrain` subprocess in its own
directory, cached, resumable and run `workers` at a time.

    <runs_dir>/runs/<run id>/run.json        the run's identity and command (written before it starts)
                            /log.txt         the run's output, appended on every attempt
                            /pid             the training process's id (to watch or stop a run)
                            /metrics.json    pretrain's metrics, written atomically at its end: done
                            /work/<profile>/ pretrain's checkpoints (deleted when done unless kept)
                            /pretrain/       the trained model (our format and transformers layout)

A run is done when its metrics.json exists, its run.json carries the planned identity and the
metrics record the planned steps; a done run is never started again. A failed or killed run has
no metrics, so the next sweep starts it again and pretrain resumes from its latest checkpoint.
A lock file per run (flock, handed to the child so it holds while the training process lives,
even if the sweep that started it was killed) keeps two sweeps from training one run at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import stages
from crisol.core.atomic import write_json
from stages.scaling.plan import Plan, Run

RUN_FILE, METRICS, LOG, LOCK, PID = "run.json", "metrics.json", "log.txt", ".lock", "pid"
SOURCE_ROOT = Path(stages.__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    run_id: str
    status: str  # "cached" (done before), "ran" or "failed"
    seconds: float
    returncode: int | None = None
    log: Path | None = None


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_record(directory: Path, run: Run, **how: Any) -> None:
    """The run's run.json: what it is (is_done compares the identity) and how it was made."""
    write_json(
        directory / RUN_FILE,
        {
            "id": run.id,
            "depth": run.depth,
            "params": run.params,
            "steps": run.steps,
            "tokens": run.tokens,
            "identity": run.identity,
            **how,
        },
    )


def is_done(directory: Path, run: Run) -> bool:
    record, metrics = read_json(directory / RUN_FILE), read_json(directory / METRICS)
    return (
        record is not None
        and metrics is not None
        and record.get("identity") == json.loads(json.dumps(run.identity, default=str))
        and metrics.get("steps") == run.steps
    )


@contextmanager
def run_lock(directory: Path) -> Iterator[int]:
    """Hold the run's lock (waiting for another sweep's run to end); yields the lock's fd."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def execute(plan: Plan, run: Run, log: logging.Logger) -> Outcome:
    """Train `run` unless it is done; resumes from its checkpoints after a failure or a kill."""
    directory = plan.directory(run)
    start = time.perf_counter()
    with run_lock(directory) as lock_fd:
        if is_done(directory, run):
            return Outcome(run.id, "cached", 0.0)
        command = plan.command(run)
        write_record(directory, run, command=command)
        with open(directory / LOG, "a") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
            out.flush()
            proc = subprocess.Popen(
                command, cwd=plan.workdir, stdout=out, stderr=subprocess.STDOUT, env=_env(), pass_fds=(lock_fd,)
            )
            (directory / PID).write_text(f"{proc.pid}\n")
            returncode = proc.wait()
        seconds = time.perf_counter() - start
        if returncode != 0 or not is_done(directory, run):
            log.warning(
                "scaling: run %s failed (exit %s) after %.1f s; log %s", run.id, returncode, seconds, directory / LOG
            )
            return Outcome(run.id, "failed", seconds, returncode, directory / LOG)
        if not plan.params.keep_checkpoints:
            shutil.rmtree(directory / "work", ignore_errors=True)
        return Outcome(run.id, "ran", seconds, returncode, directory / LOG)


def execute_all(plan: Plan, runs: list[Run], log: logging.Logger) -> list[Outcome]:
    """Every run not yet done, `workers` at a time (threads: the work is in the subprocesses).
    A failure never stops the others: they finish, and only the failed ones are left to rerun."""
    total = len(runs)
    outcomes: list[Outcome] = []

    def one(run: Run) -> Outcome:
        outcome = execute(plan, run, log)
        outcomes.append(outcome)
        if outcome.status != "failed":
            log.info(
                "scaling: run %d/%d %s (depth %d, %d steps) %s%s",
                len(outcomes),
                total,
                run.id,
                run.depth,
                run.steps,
                outcome.status,
                f" in {outcome.seconds:.1f} s" if outcome.status == "ran" else "",
            )
        return outcome

    with ThreadPoolExecutor(max_workers=plan.params.workers, thread_name_prefix="scaling-run") as pool:
        return list(pool.map(one, runs))
