"""torch's threads follow the cores other processes leave free (crisol/core/threads.py): one
thread fewer per core a busy neighbour takes, back up when it leaves, never below 1 or above the
count the run started with."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from crisol.core.threads import follow_free_cores, threads_for


def test_threads_for_the_free_cores():
    assert threads_for(0.0, cores=2, most=2) == 2
    assert threads_for(0.3, cores=2, most=2) == 2  # a little background noise changes nothing
    assert threads_for(1.0, cores=2, most=2) == 1
    assert threads_for(3.0, cores=2, most=2) == 1  # never below one
    assert threads_for(0.0, cores=8, most=4) == 4  # never above what the run asked for
    assert threads_for(2.0, cores=8, most=8) == 6


def _follow_in_a_thread(seconds: float, every_s: float) -> list[int]:
    """Thread counts seen by a fresh thread (its own libgomp state) calling follow_free_cores."""
    seen: list[int] = []

    def loop():
        torch.set_num_threads(2)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seen.append(follow_free_cores(every_s))
            time.sleep(0.05)

    worker = threading.Thread(target=loop)
    worker.start()
    worker.join()
    return seen


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores")
def test_a_busy_neighbour_costs_one_thread_and_gives_it_back():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        shared = _follow_in_a_thread(2.5, every_s=0.5)
    finally:
        busy.kill()
        busy.wait()
    alone = _follow_in_a_thread(1.5, every_s=0.5)
    assert shared[-1] == 1, shared
    assert alone[-1] == 2, alone
