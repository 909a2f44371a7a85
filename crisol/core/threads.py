"""OpenMP settings that keep torch fast on a CPU it shares with other busy processes.

torch's CPU kernels split each op over libgomp threads, which then wait for each other. With
libgomp's default a waiting thread spins for 300,000 rounds before it sleeps; when another process
holds one of the cores, the thread sharing that core is descheduled mid-op and its partner spins
through its time slice. GOMP_SPINCOUNT=10000 lets a waiting thread sleep after ~10 us instead.
Measured (benchmarks/bench_contention.py, tiny-shaped pretraining, 2-core development machine,
docs/results.md), as tokens/s beside one busy process over tokens/s alone, and the cost alone:

    torch's defaults          0.37-0.42 shared/alone
    GOMP_SPINCOUNT=10000      0.45-0.48, alone 0.99-1.01 x the defaults   <- taken
    OMP_WAIT_POLICY=PASSIVE   0.50-0.65, alone 0.85-0.97 x the defaults   (every op pays a wake-up)
    threads following the free cores: 0.48-0.56, alone 1.0, but a thread count that changes with
    the machine's load changes the float sums, so the same run would not give the same bytes twice.

libgomp reads these variables once, when torch loads it, so this must run before `import torch`:
`stages/__init__.py` and `crisol/__init__.py` call it, and every stage and the `crisol` command
import one of them before any module that imports torch. A user's own OpenMP wait settings win.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SHARED_CPU_SETTINGS = {"GOMP_SPINCOUNT": "10000"}
USER_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")  # a user who set either has chosen


def share_cpu_politely(environ: MutableMapping[str, str] = os.environ) -> None:
    """Shorten OpenMP's spin-wait for a shared CPU unless the environment already chooses a wait."""
    if not any(key in environ for key in USER_CHOICES):
        environ.update(SHARED_CPU_SETTINGS)
