"""Retraining behind an evaluation gate: new crawl data in, the DVC graph rerun, the new model
promoted to the registry only if it beats production.

    python -m flows.retrain --watch-dir incoming/            # new WARC/WET files there, if any
    python -m flows.retrain --cc-path crawl-data/CC-MAIN-2024-33/wet.paths.gz
    python -m flows.retrain --announce incoming/             # emit "crisol.crawl.landed" for the trigger

One run of the `crisol-retrain` flow:
1. finds new inputs: files in `watch_dir` (WARC/WET, recursively; names starting with "." are
   skipped, so write `.name.part` and rename when done) whose sha256 the ledger of consumed
   inputs has not seen, or Common Crawl paths it has not seen. Nothing new: the decision is
   "nothing_new", recorded, and the run stops.
2. writes `ingest.inputs` (the new inputs; with `cumulative`, every consumed input so far) into
   params.yaml and runs the pipeline flow as a subflow, DVC rerunning what changed.
3. refuses (production unchanged) if the pipeline failed, ran only part of the graph, or left
   the metrics file missing, unparsable or older than the run. Otherwise compares the metrics
   with production's on the configured rules (see `MetricRule`) and promotes only a model at
   least as good on every metric and better on one; the first model is promoted.
4. records the decision in the registry history, publishes it as the markdown artifact
   `retrain-decision`, emits `crisol.model.promoted` / `crisol.retrain.refused`, and returns it.

Inputs count as consumed (ledger) once a run over them completed the whole graph, whatever the
decision; a failed or partial run leaves them new, so the next run retries them.

The parts: flows/retrain_inputs.py finds the new inputs and keeps the ledger, flows/gate.py holds
the promotion rules (pure functions), flows/retrain_record.py writes the decision's markdown; this
module is the flow that runs them in order, and its command line.
Orchestration only: no ML code is imported here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event

from flows import registry as reg
from flows.dvc_graph import stage_order
from flows.gate import DEFAULT_METRICS, MetricRule, compare, metric_value
from flows.pipeline import REPO_ROOT, pipeline
from flows.retrain_inputs import (
    DEFAULT_PATTERNS,
    LEDGER_NAME,
    find_new_inputs,
    ingest_inputs,
    matches,
    read_ledger,
    record_consumed,
)
from flows.retrain_record import publish
from flows.workspace_lock import held_lock

CRAWL_LANDED = "crisol.crawl.landed"
MODEL_PROMOTED = "crisol.model.promoted"
RETRAIN_REFUSED = "crisol.retrain.refused"
RETRAIN_LOCK = ".retrain.lock"  # in the registry: one retraining at a time (the pipeline has its own lock)
DEFAULT_METRICS_FILE = "data/metrics/evaluate.json"
DEFAULT_MODEL_DIR = "data/ppo"
CLOCK_SLACK_S = 0.5  # file timestamps come from a coarse kernel clock that can lag time.time()


@dataclass(frozen=True)
class Setup:
    """One retraining's settings, resolved: absolute paths, parsed rules, this flow run's id."""

    root: Path
    registry: Path
    ledger: Path
    metrics: Path
    model_dir: Path
    watch: Path | None
    rules: tuple[MetricRule, ...]
    patterns: list[str]
    run_id: str | None

    @classmethod
    def resolve(
        cls,
        root: str,
        registry: str | None,
        ledger: str | None,
        metrics_file: str,
        model_dir: str,
        watch_dir: str | None,
        metrics: list[str] | None,
        patterns: list[str] | None,
    ) -> Setup:
        root_path = Path(root).resolve()
        registry_path = _resolve(root_path, registry or "models/registry")
        return cls(
            root=root_path,
            registry=registry_path,
            ledger=_resolve(root_path, ledger) if ledger else registry_path / LEDGER_NAME,
            metrics=_resolve(root_path, metrics_file),
            model_dir=_resolve(root_path, model_dir),
            watch=_resolve(root_path, watch_dir) if watch_dir else None,
            rules=tuple(MetricRule.parse(m) for m in (metrics or DEFAULT_METRICS)),
            patterns=list(patterns or DEFAULT_PATTERNS),
            run_id=_flow_run_id(),
        )


def _resolve(root: Path, path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


def _flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id) if flow_run.id else None
    except Exception:  # noqa: BLE001 - outside a run
        return None


# --- the flow ------------------------------------------------------------------------------------


@flow(name="crisol-retrain")
def retrain(
    watch_dir: str | None = None,
    common_crawl_paths: list[str] | None = None,
    metrics: list[str] | None = None,
    root: str = str(REPO_ROOT),
    registry: str | None = None,
    metrics_file: str = DEFAULT_METRICS_FILE,
    model_dir: str = DEFAULT_MODEL_DIR,
    ledger: str | None = None,
    patterns: list[str] | None = None,
    cumulative: bool = False,
    targets: list[str] | None = None,
    force: bool = False,
    set_params: list[str] | None = None,
) -> dict[str, Any]:
    """Retrain on new crawl data (files in `watch_dir` or Common Crawl paths) and promote the new
    model only if it beats production on `metrics` (rules `name:max|min[:tolerance]`).

    Relative paths (watch_dir, registry, metrics_file, model_dir, ledger) are under `root`.
    registry: default <root>/models/registry; ledger: default <registry>/consumed-inputs.jsonl."""
    setup = Setup.resolve(root, registry, ledger, metrics_file, model_dir, watch_dir, metrics, patterns)
    # One retraining per registry; a killed retrain's lock dies with it (flows/workspace_lock.py).
    with held_lock(setup.registry / RETRAIN_LOCK, get_run_logger(), what="the retrain lock"):
        return _retrain(setup, common_crawl_paths, cumulative, targets, force, set_params)


def _retrain(
    setup: Setup,
    common_crawl_paths: list[str] | None,
    cumulative: bool,
    targets: list[str] | None,
    force: bool,
    set_params: list[str] | None,
) -> dict[str, Any]:
    """The run, one retraining at a time: new inputs, the pipeline over them, the gate, the record."""
    current = reg.production(setup.registry)
    decision: dict[str, Any] = {
        "flow_run_id": setup.run_id,
        "rules": [str(r) for r in setup.rules],
        "previous_production": current["version"] if current else None,
    }
    consumed = read_ledger(setup.ledger)
    new = find_new_inputs(setup.root, consumed, setup.watch, common_crawl_paths, setup.patterns)
    if not new:
        return _nothing_new(setup, decision, common_crawl_paths)

    inputs = ingest_inputs(new, consumed, cumulative)
    decision.update(
        inputs=[{k: n[k] for k in ("path", "sha256", "size", "source") if k in n} for n in new], ingest_inputs=inputs
    )
    get_run_logger().info("%d new input(s); ingest.inputs = %s", len(new), inputs)

    started = time.time()
    rows, problem = _run_pipeline(
        setup.root, targets, force, [f"ingest.inputs={json.dumps(inputs)}", *(set_params or [])]
    )
    decision["stages"] = rows
    if problem is None:
        problem, complete = _check_run(setup.root, rows, targets, setup.metrics, started)
        if complete:
            # The graph up to the metrics ran over these inputs: consumed, whatever the decision.
            record_consumed(setup.ledger, new, setup.run_id)
    candidate: dict[str, Any] | None = None
    if problem is None:
        candidate, problem = _read_metrics(setup.metrics)

    record = {"flow_run_id": setup.run_id, "inputs": inputs}
    if problem is not None:
        return _refuse(setup, decision, problem, record)
    assert candidate is not None
    return _judge(setup, decision, candidate, record)


def _nothing_new(setup: Setup, decision: dict[str, Any], common_crawl_paths: list[str] | None) -> dict[str, Any]:
    """No input the ledger has not seen: record that, and stop."""
    where = " and ".join(
        filter(
            None, [f"{setup.watch}" if setup.watch else None, "the Common Crawl paths" if common_crawl_paths else None]
        )
    )
    reason = f"no new inputs in {where}" if where else "no inputs given (watch_dir or common_crawl_paths)"
    get_run_logger().info("nothing to do: %s", reason)
    decision.update(decision="nothing_new", reason=reason)
    reg.append_history(
        setup.registry,
        {
            "decision": "nothing_new",
            "reason": reason,
            "flow_run_id": setup.run_id,
            "watch_dir": str(setup.watch) if setup.watch else None,
        },
    )
    return publish(setup.registry, decision)


def _run_pipeline(
    root: Path, targets: list[str] | None, force: bool, overrides: list[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """(the pipeline's stage rows, why the run failed or None). Any failure to run is a refusal,
    never a promotion."""
    try:
        state = pipeline(root=str(root), targets=targets, force=force, set_params=overrides, return_state=True)
        if state.is_completed():
            return state.result(), None
        error = state.result(raise_on_failure=False)
        detail = _first_line(error) if error is not None else ""
        return [], f"pipeline run {state.type.value.lower()}: {detail or state.message}"
    except Exception as exc:  # noqa: BLE001 - any failure to run is a refusal, never a promotion
        return [], f"pipeline run failed: {type(exc).__name__}: {_first_line(exc)}"


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _check_run(
    root: Path, rows: list[dict[str, Any]], targets: list[str] | None, metrics_path: Path, started: float
) -> tuple[str | None, bool]:
    """(why this completed pipeline run cannot be judged, or None; whether it covered the stage
    writing the metrics file, i.e. consumed its inputs). Not judged: a stage not completed, the
    metrics stage not part of the run or skipped, the metrics file missing or stale."""
    bad = [r["stage"] for r in rows if r.get("outcome") not in ("ran", "skipped")]
    if bad:
        return f"stage(s) {', '.join(bad)} did not complete", False
    rel, writer = _metrics_writer(root, metrics_path)
    outcomes = {r["stage"]: r["outcome"] for r in rows}
    if writer is not None and writer not in outcomes:
        return f"partial run: stage {writer} (writes {rel}) was not part of it (targets {targets})", False
    if writer is not None and outcomes[writer] != "ran":
        return f"stage {writer} was skipped (nothing upstream changed): no new model to judge", True
    if not metrics_path.is_file():
        return f"metrics file {metrics_path} missing after the run", writer is not None
    if metrics_path.stat().st_mtime < started - CLOCK_SLACK_S:
        return f"metrics file {metrics_path} is older than this run", writer is not None
    return None, True


def _metrics_writer(root: Path, metrics_path: Path) -> tuple[str | None, str | None]:
    """(the metrics file relative to root, the DVC stage declaring it as its metrics), or None for
    either: a file outside the workspace, or one no stage writes."""
    resolved = metrics_path.resolve()
    rel = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else None
    writer = None
    if rel is not None:
        for info in stage_order(root):
            if rel in info.metrics:
                writer = info.name
    return rel, writer


def _read_metrics(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the candidate's metrics, or None; why they could not be read, or None)."""
    try:
        candidate = json.loads(path.read_text())
        if not isinstance(candidate, dict):
            raise ValueError("not a JSON object")
        return candidate, None
    except (OSError, ValueError) as exc:
        return None, f"metrics file {path} unreadable: {exc}"


def _judge(setup: Setup, decision: dict[str, Any], candidate: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The gate: compare with production, and register and promote the candidate, or refuse it."""
    current = reg.production_entry(setup.registry)
    promote, reason, table = compare(list(setup.rules), candidate, current["metrics"] if current else None)
    decision["comparison"] = table
    record["comparison"] = table
    if promote:
        try:
            entry = reg.register(
                setup.registry,
                [setup.model_dir],
                candidate,
                root=setup.root,
                extra={"flow_run_id": setup.run_id, "inputs": record["inputs"], "rules": decision["rules"]},
            )
        except (OSError, reg.RegistryError) as exc:
            promote, reason = False, f"could not register the model: {exc}"
    if promote:
        return _promote(setup, decision, entry["version"], reason, record)
    candidate_metrics = {r.name: metric_value(candidate, r.name) for r in setup.rules}
    return _refuse(setup, decision, reason, {**record, "candidate_metrics": candidate_metrics})


def _promote(
    setup: Setup, decision: dict[str, Any], version: str, reason: str, record: dict[str, Any]
) -> dict[str, Any]:
    reg.promote(setup.registry, version, reason=reason, record=record)
    decision.update(decision="promoted", reason=reason, version=version)
    get_run_logger().info("promoted %s: %s", version, reason)
    emit_event(
        MODEL_PROMOTED,
        resource={"prefect.resource.id": f"crisol.model.{version}"},
        payload={"version": version, "reason": reason, "path": str(setup.registry / version)},
    )
    return publish(setup.registry, decision)


def _refuse(setup: Setup, decision: dict[str, Any], reason: str, record: dict[str, Any]) -> dict[str, Any]:
    """Production unchanged: record why, and tell whoever listens."""
    get_run_logger().warning("refused: %s", reason)
    decision.update(decision="refused", reason=reason)
    reg.refuse(setup.registry, reason, record=record)
    emit_event(RETRAIN_REFUSED, resource={"prefect.resource.id": "crisol.model-registry"}, payload={"reason": reason})
    return publish(setup.registry, decision)


# --- announcing new data -------------------------------------------------------------------------


def announce(watch_dir: str | None = None, common_crawl_paths: list[str] | None = None, flush: bool = True) -> Any:
    """Emit `crisol.crawl.landed` so a deployment's event trigger starts a retraining. The payload
    carries both parameters (`watch_dir`, `common_crawl_paths`; null when not given), for the
    trigger to pass on as `{{ event.payload.watch_dir }}` and `{{ event.payload.common_crawl_paths }}`.
    Returns the event (None when no Prefect API is configured to receive it)."""
    if not watch_dir and not common_crawl_paths:
        raise ValueError("announce what? give a directory or Common Crawl paths")
    directory = str(Path(watch_dir).resolve()) if watch_dir else None
    files = []
    if directory:
        files = sorted(
            p.relative_to(directory).as_posix()
            for p in Path(directory).rglob("*")
            if p.is_file() and matches(p.name, DEFAULT_PATTERNS)
        )
    resource_id = f"crisol.crawl.{directory}" if directory else "crisol.crawl.common-crawl"
    event = emit_event(
        CRAWL_LANDED,
        resource={"prefect.resource.id": resource_id, "prefect.resource.name": directory or "common crawl"},
        payload={
            "watch_dir": directory,
            "common_crawl_paths": list(common_crawl_paths or []) or None,
            "files": files[:1000],
        },
    )
    if flush:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=30)  # a CLI process must not exit with the event still queued
    return event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.retrain", description=retrain.__doc__.split("\n\n")[0])
    parser.add_argument("--watch-dir", help="directory of WARC/WET files; new ones (not in the ledger) are used")
    parser.add_argument(
        "--cc-path",
        dest="common_crawl_paths",
        action="append",
        help="a Common Crawl path or listing for ingest.inputs (repeatable)",
    )
    parser.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        metavar="NAME:max|min[:TOL]",
        help=f"promotion rule (repeatable; default {' '.join(DEFAULT_METRICS)})",
    )
    parser.add_argument("--root", default=str(REPO_ROOT))
    parser.add_argument("--registry", help="registry directory (default <root>/models/registry)")
    parser.add_argument("--metrics-file", default=DEFAULT_METRICS_FILE)
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR)
    parser.add_argument(
        "--cumulative", action="store_true", help="train on every input consumed so far, not just the new ones"
    )
    parser.add_argument("--target", dest="targets", action="append")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--set", dest="set_params", action="append", metavar="SECTION.KEY=VALUE")
    parser.add_argument(
        "--announce",
        metavar="DIR",
        nargs="?",
        const="",
        default=None,
        help=f"only emit {CRAWL_LANDED} for DIR (and/or --cc-path) and exit",
    )
    args = parser.parse_args(argv)
    if args.announce is not None:
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value():
            print("set PREFECT_API_URL to the server whose deployment triggers should see the event", file=sys.stderr)
            return 1
        event = announce(args.announce or args.watch_dir, args.common_crawl_paths)
        if event is None:
            print("no Prefect API to send the event to (set PREFECT_API_URL)", file=sys.stderr)
            return 1
        print(f"emitted {CRAWL_LANDED} ({event.id}): {json.dumps(event.payload)[:300]}")
        return 0
    watch = str(Path(args.watch_dir).resolve()) if args.watch_dir else None
    decision = retrain(
        watch_dir=watch,
        common_crawl_paths=args.common_crawl_paths,
        metrics=args.metrics,
        root=args.root,
        registry=args.registry,
        metrics_file=args.metrics_file,
        model_dir=args.model_dir,
        cumulative=args.cumulative,
        targets=args.targets,
        force=args.force,
        set_params=args.set_params,
    )
    print(decision["markdown"])
    return 0 if decision["decision"] != "refused" else 2


if __name__ == "__main__":
    sys.exit(main())
