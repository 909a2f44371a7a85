"""python -m stages.scaling [--params FILE] [--set section.key=value ...]

The stage contract's command line (crisol/core/cli.py). The sweep also needs the params file and
the overrides themselves, to hand them on to each run's `python -m stages.pretrain`, so they are
read here first and passed to the stage. Grid errors that need the data to find (a budget too
small for a depth) are ParamsErrors raised during planning: one line, exit 2, like any bad param.
"""

import argparse
import sys

from crisol.core.cli import EXIT_PARAMS, main
from crisol.core.errors import ParamsError
from crisol.core.params import DEFAULT_PARAMS_FILE
from stages.scaling.params import ScalingParams
from stages.scaling.stage import run as run_stage


def entry(argv: list[str] | None = None) -> int:
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--params", default=str(DEFAULT_PARAMS_FILE))
    peek.add_argument("--set", dest="overrides", action="append", default=[])
    known, _ = peek.parse_known_args(argv)

    def run(ctx):
        """Sweep an IsoFLOP grid of pretraining runs, fit the loss law, size a model for a budget."""
        run_stage(ctx, known.params, known.overrides)

    try:
        return main("scaling", ScalingParams, run, argv)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PARAMS


if __name__ == "__main__":
    sys.exit(entry())
