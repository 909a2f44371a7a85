"""The results log: one speedrun line per pipeline run, so runs compare over commits.

    python -m flows.speedrun_log [--root R]        append <evaluate.out>/speedrun.json to the log
    python -m flows.speedrun_log --show [N]        the last N runs (default 10) as a markdown table

The log, results/speedrun.jsonl at the repository root, is git-tracked and append-only, outside
DVC's outputs (a `dvc checkout` must not rewind it). Each entry is the evaluate stage's speedrun
line (stages/evaluate/speedrun.py) plus `id`, a hash of its content: a line already in the log is
not appended again, so rerunning a pipeline in which DVC skipped evaluate adds nothing. The flow
(flows/pipeline.py) calls it after a run, as does `make repro` after `dvc repro`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from crisol.core.atomic import append_jsonl
from crisol.core.errors import ParamsError
from crisol.core.params import lookup, resolve_tree
from stages.evaluate.speedrun import speedrun_table

REPO_ROOT = Path(__file__).resolve().parents[1]
LOG = Path("results/speedrun.jsonl")
LINE = "speedrun.json"


def run_id(line: dict[str, Any]) -> str:
    """The hash of a line's content (its id left out): the same run gives the same id."""
    body = {k: v for k, v in line.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_log(path: Path) -> list[dict[str, Any]]:
    """The log's entries; a torn last line (a crash mid-append) is left out, not fatal."""
    if not path.is_file():
        return []
    entries = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return entries


def record(root: Path, line_file: Path) -> bool:
    """Append the line in `line_file` to root's log unless that run is already in it; True if appended."""
    line = json.loads(line_file.read_text(encoding="utf-8"))
    entry = {**line, "id": run_id(line)}
    log = root / LOG
    if any(e.get("id") == entry["id"] for e in read_log(log)):
        return False
    append_jsonl(log, [entry])
    return True


def evaluate_line(root: Path) -> Path:
    """<evaluate.out>/speedrun.json as params.yaml names it (its profile applied)."""
    try:
        out = lookup(resolve_tree(root / "params.yaml"), "evaluate.out")
    except (OSError, ParamsError):
        out = None
    return root / (out or "data/evaluate") / LINE


def report(root: Path, line_file: Path) -> str:
    if not line_file.is_file():
        return f"speedrun log: no speedrun line at {line_file} (the evaluate stage has not run): nothing logged"
    appended = record(root, line_file)
    where = root / LOG
    return f"speedrun log: {'appended to' if appended else 'this run is already in'} {where}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.speedrun_log", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    parser.add_argument("--show", type=int, nargs="?", const=10, metavar="N", help="print the last N runs")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.show is not None:
        entries = read_log(root / LOG)[-args.show :] if args.show > 0 else []
        print(speedrun_table(entries) if entries else f"speedrun log: no runs in {root / LOG}")
        return 0
    print(report(root, evaluate_line(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
