"""Running a stage in a test, the one way every kit and test does it: a params file written for
the test (the stage's section and the few top-level keys it reads: profile, executor, source,
own), then the stage's own command line, `python -m stages.<name> --params FILE --set ...`, run in
this process (exit code returned) or built for a subprocess. So a test's argv is a user's argv."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import yaml

from crisol.core.cli import main


def write_stage_params(path: Path, stage: str, section: dict, *, profile: str, **top) -> Path:
    """Write `path`: `profile`, the top-level keys in `top` and the stage's `section` (values as
    YAML takes them: paths as strings). A file without a profiles table has only these values."""
    path.write_text(yaml.safe_dump({"profile": profile, **top, stage: section}))
    return path


@functools.cache
def params_model(stage: str) -> type:
    """The params model that stages/<stage>/__main__.py hands to the stage CLI, found by the rule
    every stage's names follow: `<Stage>Params` (any case: PPOParams) in its params.py."""
    module = importlib.import_module(f"stages.{stage}.params")
    return next(value for name, value in vars(module).items() if name.lower() == f"{stage}params")


def stage_defaults(stage: str) -> dict:
    """The stage's section at its defaults, as a params file holds it."""
    return params_model(stage)().model_dump(mode="json")


def stage_argv(params_file: Path, overrides: tuple[str, ...]) -> list[str]:
    argv = ["--params", str(params_file)]
    for assignment in overrides:
        argv += ["--set", assignment]
    return argv


def run_stage(stage: str, params_file: Path, *overrides: str) -> int:
    """`python -m stages.<stage> --params FILE --set OVERRIDE ...` in this process; the exit code."""
    run = importlib.import_module(f"stages.{stage}.stage").run
    return main(stage, params_model(stage), run, stage_argv(params_file, overrides))


def stage_command(stage: str, params_file: Path, *overrides: str) -> list[str]:
    """The same command line, for a subprocess."""
    return [sys.executable, "-m", f"stages.{stage}", *stage_argv(params_file, overrides)]
