"""The stage contract's command line, shared by every `python -m stages.<name>`.

    python -m stages.<name> [--params FILE] [--set section.key=value ...]

Loads and validates params and checks its output paths (crisol/core/output_guards.py): a mistake
is one line and exit 2. Then runs the stage and writes its metrics.json atomically with timing
added. An unusable input is a one-line error and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from crisol.core.atomic import write_json
from crisol.core.errors import ParamsError, StageInputError
from crisol.core.output_guards import claim, guard_outputs, workspace_roots
from crisol.core.params import DEFAULT_PARAMS_FILE, ExecutorParams, Section, load, resolve_tree
from crisol.core.source import DataSource, source_of

EXIT_INPUT = 1
EXIT_PARAMS = 2


@dataclass
class StageContext:
    """What a stage's `run` receives: its validated params and a place to put metrics."""

    name: str
    params: Any
    executor: ExecutorParams
    profile: str
    log: logging.Logger
    metrics: dict[str, Any] = field(default_factory=dict)
    source: DataSource = field(default_factory=DataSource)  # synthetic world, or own.root

    def params_dict(self) -> dict[str, Any]:
        """The params that made an artifact, for its provenance metadata."""
        return {"profile": self.profile, **self.source.to_dict(), self.name: self.params.model_dump(mode="json")}


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def main(name: str, model: type[Section], run: Callable[[StageContext], None], argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m stages.{name}",
        description=(run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None,
    )
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS_FILE, help="params file (default: params.yaml)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any parameter, e.g. --set profile=micro --set ingest.min_words=30",
    )
    args = parser.parse_args(argv)
    configure_logging()
    log = logging.getLogger(f"crisol.{name}")
    try:
        params, executor, profile = load(name, model, args.params, args.overrides)
        tree = resolve_tree(args.params, args.overrides)
        source = source_of(tree)
        owned = guard_outputs(name, params, workspace_roots(args.params, tree), source)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS
    if not hasattr(params, "metrics"):
        raise TypeError(f"params section '{name}' must declare a 'metrics' path")
    ctx = StageContext(name=name, params=params, executor=executor, profile=profile, log=log, source=source)
    log.info("stage %s starting (profile %s, source %s)", name, profile, source.kind)
    start = time.perf_counter()
    try:
        run(ctx)
    except StageInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        claim(name, owned, made_only=True)  # those made in a parent that did not exist before the run
    seconds = time.perf_counter() - start
    ctx.metrics.update({"stage": name, "profile": profile, **source.to_dict(), "seconds": round(seconds, 3)})
    write_json(params.metrics, ctx.metrics)
    log.info("stage %s done in %.1f s; metrics in %s", name, seconds, params.metrics)
    return 0
