"""OpenMP settings that keep torch fast on a CPU it shares with other busy processes.

torch's CPU kernels run on libgomp threads. With libgomp's default wait policy a thread that
finishes its share of an op spins, waiting for the others, before it sleeps; when another process
holds one of the cores, the thread that shares that core is descheduled mid-op and its partner
spins through whole time slices. Measured on the 2-core development machine, tiny-shaped
pretraining fell from ~10k to ~1.2k tokens/s beside one CPU-bound process (issue 21;
benchmarks/bench_contention.py measures it). With OMP_WAIT_POLICY=PASSIVE a waiting thread sleeps
at once and gives its core back.

libgomp reads the variable once, when torch loads it, so this must run before `import torch`:
`stages/__init__.py` and `crisol/__init__.py` call it, and every stage and the `crisol` command
import one of them before any module that imports torch. A value the user set is kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

SHARED_CPU_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE"}


def share_cpu_politely(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the OpenMP wait policy for a shared CPU unless the environment already chooses one."""
    for key, value in SHARED_CPU_SETTINGS.items():
        environ.setdefault(key, value)
