"""The OpenMP spin-wait for a shared CPU is in place before torch loads, in every stage process
and the `crisol` command, and a user's own choice is kept (crisol/core/threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kit.paths import REPO_ROOT

# Reports the policy a process's libgomp saw: the variable at the moment torch was first imported.
PROBE = """
import builtins, os, sys
seen = []
real_import = builtins.__import__
def spy(name, *args, **kwargs):
    if name == "torch" and "torch" not in sys.modules and not seen:
        seen.append(os.environ.get("GOMP_SPINCOUNT"))
    return real_import(name, *args, **kwargs)
builtins.__import__ = spy
import {module}
print(seen[0] if seen else "torch never imported")
"""


def _spincount_when_torch_loads(module: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", ["stages.pretrain.stage", "stages.ppo.stage", "crisol.serve.engine"])
def test_short_spin_set_before_torch_loads(module):
    assert _spincount_when_torch_loads(module, None) == "10000"


def test_user_choice_kept():
    assert _spincount_when_torch_loads("stages.sft.stage", "PASSIVE") == "None", "the user's wait policy decides"
