"""crisol's runnable stages: one package per pipeline stage, each `python -m stages.<name>`.

A stage reads its inputs, computes, writes its outputs atomically and reports metrics; what stages
share is the `crisol` library. A stage never imports another stage: stages talk only through
artifacts on disk (tests/stages/test_imports.py).
"""

from crisol.core.threads import share_cpu_politely

# Before anything imports torch (crisol/core/threads.py says why).
share_cpu_politely()
