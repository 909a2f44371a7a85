"""A copy of the project's stage graph in a DVC workspace of its own (no git), for the end-to-end
tests: the code, params.yaml and the graph's template, then `overrides` written into params.yaml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from flows.pipeline import dvc_executable
from flows.workspace import apply_param_overrides
from kit.paths import REPO_ROOT

# The library too: the stages import it, and dvc.yaml lists its packages as the stages' code deps.
COPIED = ["crisol", "stages", "flows", "dvc.yaml", "params.yaml", ".dvcignore"]


def project_workspace(dest: Path, overrides: list[str]) -> Path:
    dest.mkdir()
    for name in COPIED:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    subprocess.run([dvc_executable(), "init", "--no-scm", "-q"], cwd=dest, check=True)
    apply_param_overrides(dest / "params.yaml", overrides)
    return dest
