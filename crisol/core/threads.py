"""torch's CPU threads follow the cores other processes leave free, so a shared machine costs a run
only the cores it lost.

torch's CPU kernels split each op over libgomp threads, which then wait for each other. When
another process holds one of the cores, the thread that shares that core is descheduled mid-op
while its partner spins: tiny-shaped pretraining fell from ~10.5k to ~3.7k tokens/s beside one
CPU-bound process on the 2-core development machine (the issue measured ~1.2k). Two fixes were
measured (benchmarks/bench_contention.py; docs/results.md):
- OMP_WAIT_POLICY=PASSIVE (waiting threads sleep at once): 5.6k shared, but ~17% slower alone
  (8.8k), since every op then pays a wake-up; the common case would pay for the rare one;
- one thread fewer per core that others keep busy (this module): alone unchanged, ~5k shared.

`follow_free_cores()` is called between steps by the training loops and the serving engine. Every
`EVERY_S` it reads how much CPU time the whole machine spent (/proc/stat) minus what this process
spent (os.times) over the interval: the cores others used. torch then gets the free cores, at
least 1 and at most the thread count it had at the first call (the stage's `threads`, or torch's
default). Thread counts are per thread in libgomp, so each calling thread keeps its own state.
Where /proc/stat cannot be read (not Linux), nothing changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import torch

EVERY_S = 2.0  # how often the machine's load is read again: one read costs ~50 us
log = logging.getLogger("crisol.threads")
_state = threading.local()


@dataclass
class _Sample:
    wall: float
    machine_busy: float  # CPU seconds, all processes, all cores
    own: float  # CPU seconds of this process, all its threads


def _machine_busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _sample() -> _Sample | None:
    busy = _machine_busy_seconds()
    if busy is None:
        return None
    times = os.times()
    return _Sample(time.monotonic(), busy, times.user + times.system)


def threads_for(others_cores: float, cores: int, most: int) -> int:
    """The threads to use when other processes keep `others_cores` cores busy."""
    return max(1, min(most, round(cores - others_cores)))


def follow_free_cores(every_s: float = EVERY_S) -> int:
    """Set torch's thread count for this thread to the free cores (see the module's docstring); cheap
    between reads. Returns the thread count in use."""
    state = _state.__dict__
    if "most" not in state:
        state.update(most=torch.get_num_threads(), cores=len(os.sched_getaffinity(0)), last=_sample())
    last: _Sample | None = state["last"]
    now = time.monotonic()
    if last is None or now - last.wall < every_s:
        return torch.get_num_threads()
    current = _sample()
    if current is None:
        return torch.get_num_threads()
    state["last"] = current
    others = max(0.0, (current.machine_busy - last.machine_busy) - (current.own - last.own)) / (now - last.wall)
    want = threads_for(others, state["cores"], state["most"])
    if want != torch.get_num_threads():
        log.info(
            "other processes use %.1f of %d cores: %d torch threads (was %d)",
            others,
            state["cores"],
            want,
            torch.get_num_threads(),
        )
        torch.set_num_threads(want)
    return want
