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
Orchestration only: no ML code is imported here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event

from flows import registry as reg
from flows.dvc_graph import stage_order
from flows.pipeline import REPO_ROOT, ensure_workspace_limit, pipeline

CRAWL_LANDED = "crisol.crawl.landed"
MODEL_PROMOTED = "crisol.model.promoted"
RETRAIN_REFUSED = "crisol.retrain.refused"
RETRAIN_LIMIT = "crisol-retrain"          # one retraining at a time (the pipeline has its own limit)
ARTIFACT_KEY = "retrain-decision"
LEDGER_NAME = "consumed-inputs.jsonl"
DEFAULT_METRICS_FILE = "data/metrics/evaluate.json"
DEFAULT_MODEL_DIR = "data/ppo"
DEFAULT_PATTERNS = ("*.warc", "*.warc.gz", "*.wet", "*.wet.gz")
# The gate: the final chat model's reward (gold oracle), closed-book accuracy, hallucinations.
DEFAULT_METRICS = ("rlhf_gold_score:max", "rlhf_closed_book_exact_match:max", "rlhf_hallucination_rate:min")
CLOCK_SLACK_S = 0.5  # file timestamps come from a coarse kernel clock that can lag time.time()


# --- the promotion rule --------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricRule:
    """`name:max` (higher is better), `name:min` (lower is better), optionally `:tolerance`.

    `rlhf_gold_score:max:0.01`: the candidate is better if it beats production by more than 0.01,
    worse if it falls more than 0.01 short, and the same within 0.01 (default tolerance 0). The
    name is a top-level key of the metrics JSON, or a dotted path into it (`models.rlhf.x.y`)."""

    name: str
    goal: str
    tolerance: float = 0.0

    @classmethod
    def parse(cls, text: str) -> MetricRule:
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not parts[0] or parts[1] not in ("max", "min"):
            raise ValueError(f"metric rule {text!r}: expected name:max or name:min, optionally :tolerance")
        try:
            tolerance = float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:
            raise ValueError(f"metric rule {text!r}: tolerance must be a number") from None
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"metric rule {text!r}: tolerance must be >= 0")
        return cls(parts[0], parts[1], tolerance)

    def __str__(self) -> str:
        return f"{self.name}:{self.goal}" + (f":{self.tolerance:g}" if self.tolerance else "")


def metric_value(metrics: dict[str, Any] | None, name: str) -> float | None:
    """A finite number at `name` (a key, else a dotted path), or None."""
    if not metrics:
        return None
    value: Any = metrics.get(name)
    if value is None and "." in name:
        value = metrics
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def compare(rules: list[MetricRule], candidate: dict[str, Any],
            current: dict[str, Any] | None) -> tuple[bool, str, list[dict[str, Any]]]:
    """(promote?, reason, one row per rule). Promote: every rule's metric is present in the
    candidate; and with a production model, none is worse and at least one is better."""
    rows = []
    for rule in rules:
        new, old = metric_value(candidate, rule.name), metric_value(current, rule.name)
        if new is None:
            verdict = "missing"
        elif current is None:
            verdict = "first"
        elif old is None:
            verdict = "not compared"   # production never recorded it (the rule list changed)
        else:
            gain = (new - old) if rule.goal == "max" else (old - new)
            verdict = "better" if gain > rule.tolerance else "worse" if gain < -rule.tolerance else "same"
        rows.append({"metric": rule.name, "goal": str(rule).partition(":")[2], "production": old,
                     "candidate": new, "change": None if new is None or old is None else new - old,
                     "verdict": verdict})
    missing = [r["metric"] for r in rows if r["verdict"] == "missing"]
    if missing:
        return False, f"candidate metrics lack {', '.join(missing)}", rows
    if current is None:
        return True, "first model: no production model yet", rows
    worse = [r for r in rows if r["verdict"] == "worse"]
    if worse:
        return False, "worse on " + ", ".join(f"{r['metric']} ({_fmt(r['production'])} -> {_fmt(r['candidate'])})"
                                              for r in worse), rows
    better = [r["metric"] for r in rows if r["verdict"] == "better"]
    if not better:
        return False, "no metric improved on production (ties within tolerance)", rows
    return True, f"better on {', '.join(better)}; no metric worse", rows


# --- new inputs and the ledger -------------------------------------------------------------------

def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _append_ledger(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _param_path(path: Path, root: Path) -> str:
    """How an input is written into params.yaml: relative to the repo root when inside it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path.resolve())


def find_new_inputs(root: Path, ledger: list[dict[str, Any]], watch_dir: Path | None,
                    common_crawl_paths: list[str] | None, patterns: list[str]) -> list[dict[str, Any]]:
    """Inputs the ledger has not seen: files by content (sha256; a copy under another name is not
    new, a file rewritten in place is), Common Crawl paths by their text."""
    seen_digests = {r["sha256"] for r in ledger if r.get("sha256")}
    seen_paths = {r["path"] for r in ledger if r.get("source") == "common_crawl"}
    known_stat = {(r.get("abs"), r.get("size"), r.get("mtime_ns")): r["sha256"] for r in ledger if r.get("sha256")}
    new: list[dict[str, Any]] = []
    if watch_dir is not None:
        if not watch_dir.is_dir():
            raise FileNotFoundError(f"watch_dir {watch_dir} is not a directory")
        files = sorted(p for p in watch_dir.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(watch_dir).parts)
                       and any(fnmatch.fnmatch(p.name, pat) for pat in patterns))
        batch_digests: set[str] = set()
        for file in files:
            st = file.stat()
            key = (str(file.resolve()), st.st_size, st.st_mtime_ns)
            digest = known_stat.get(key) or reg.file_sha256(file)
            if digest in seen_digests or digest in batch_digests:
                continue
            batch_digests.add(digest)
            new.append({"source": "watch_dir", "path": _param_path(file, root), "abs": key[0],
                        "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest})
    for cc_path in common_crawl_paths or []:
        cc_path = cc_path.strip()
        if cc_path and cc_path not in seen_paths and cc_path not in {n["path"] for n in new}:
            new.append({"source": "common_crawl", "path": cc_path})
    return new


# --- the decision record -------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def decision_markdown(decision: dict[str, Any]) -> str:
    kind = decision["decision"]
    title = {"promoted": f"promoted {decision.get('version')}", "refused": "refused",
             "nothing_new": "nothing new"}[kind]
    lines = [f"# Retraining: {title}", "", f"**Reason:** {decision['reason']}", ""]
    prod = decision.get("previous_production")
    lines.append(f"Production before: `{prod or 'none'}` · after: `{decision.get('production') or 'none'}`")
    rows = decision.get("comparison") or []
    if rows:
        lines += ["", f"| metric | goal | production ({prod or 'none'}) | candidate | change | verdict |",
                  "|---|---|---:|---:|---:|---|"]
        for r in rows:
            change = "—" if r["change"] is None else f"{r['change']:+.4g}"
            lines.append(f"| {r['metric']} | {r['goal']} | {_fmt(r['production'])} | {_fmt(r['candidate'])} "
                         f"| {change} | {r['verdict']} |")
    inputs = decision.get("inputs") or []
    if inputs:
        lines += ["", f"New inputs ({len(inputs)}):", ""]
        lines += [f"- `{i['path']}`" + (f" (sha256 {i['sha256'][:12]}, {i['size']:,} bytes)" if i.get("sha256") else "")
                  for i in inputs[:50]]
        if len(inputs) > 50:
            lines.append(f"- ... and {len(inputs) - 50} more")
    stages = decision.get("stages") or []
    if stages:
        lines += ["", "| stage | outcome | seconds |", "|---|---|---:|"]
        lines += [f"| {s['stage']} | {s['outcome']} | {s.get('seconds') if s.get('seconds') is not None else '—'} |"
                  for s in stages]
    if decision.get("flow_run_id"):
        lines += ["", f"Flow run: `{decision['flow_run_id']}`"]
    return "\n".join(lines) + "\n"


def _flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id) if flow_run.id else None
    except Exception:  # noqa: BLE001 - outside a run
        return None


def _resolve(root: Path, path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


def _publish(registry: Path, decision: dict[str, Any]) -> dict[str, Any]:
    decision["production"] = (reg.production(registry) or {}).get("version")
    decision["markdown"] = decision_markdown(decision)
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=decision["markdown"],
                             description=f"crisol-retrain decision: {decision['decision']}")
    return decision


def _check_run(root: Path, rows: list[dict[str, Any]], targets: list[str] | None, metrics_path: Path,
               started: float) -> tuple[str | None, bool]:
    """(why this completed pipeline run cannot be judged, or None; whether it covered the stage
    writing the metrics file, i.e. consumed its inputs). Not judged: a stage not completed, the
    metrics stage not part of the run or skipped, the metrics file missing or stale."""
    bad = [r["stage"] for r in rows if r.get("outcome") not in ("ran", "skipped")]
    if bad:
        return f"stage(s) {', '.join(bad)} did not complete", False
    rel = metrics_path.resolve().relative_to(root).as_posix() if metrics_path.resolve().is_relative_to(root) else None
    writer = None
    if rel is not None:
        for info in stage_order(root):
            if rel in info.metrics:
                writer = info.name
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


# --- the flow ------------------------------------------------------------------------------------

@flow(name="crisol-retrain")
def retrain(watch_dir: str | None = None, common_crawl_paths: list[str] | None = None,
            metrics: list[str] | None = None, root: str = str(REPO_ROOT), registry: str | None = None,
            metrics_file: str = DEFAULT_METRICS_FILE, model_dir: str = DEFAULT_MODEL_DIR,
            ledger: str | None = None, patterns: list[str] | None = None, cumulative: bool = False,
            targets: list[str] | None = None, force: bool = False,
            set_params: list[str] | None = None) -> dict[str, Any]:
    """Retrain on new crawl data (files in `watch_dir` or Common Crawl paths) and promote the new
    model only if it beats production on `metrics` (rules `name:max|min[:tolerance]`).

    Relative paths (watch_dir, registry, metrics_file, model_dir, ledger) are under `root`.
    registry: default <root>/models/registry; ledger: default <registry>/consumed-inputs.jsonl."""
    logger = get_run_logger()
    root_path = Path(root).resolve()
    registry_path = _resolve(root_path, registry or "models/registry")
    ledger_path = _resolve(root_path, ledger) if ledger else registry_path / LEDGER_NAME
    metrics_path = _resolve(root_path, metrics_file)
    rules = [MetricRule.parse(m) for m in (metrics or DEFAULT_METRICS)]
    watch = _resolve(root_path, watch_dir) if watch_dir else None
    run_id = _flow_run_id()
    ensure_workspace_limit(RETRAIN_LIMIT)
    with concurrency(RETRAIN_LIMIT, occupy=1):
        current = reg.production(registry_path)
        decision: dict[str, Any] = {"flow_run_id": run_id, "rules": [str(r) for r in rules],
                                    "previous_production": current["version"] if current else None}
        consumed = reg.read_jsonl(ledger_path)
        new = find_new_inputs(root_path, consumed, watch, common_crawl_paths, list(patterns or DEFAULT_PATTERNS))
        if not new:
            where = " and ".join(filter(None, [f"{watch}" if watch else None,
                                               "the Common Crawl paths" if common_crawl_paths else None]))
            reason = f"no new inputs in {where}" if where else "no inputs given (watch_dir or common_crawl_paths)"
            logger.info("nothing to do: %s", reason)
            decision.update(decision="nothing_new", reason=reason)
            reg.append_history(registry_path, {"decision": "nothing_new", "reason": reason, "flow_run_id": run_id,
                                               "watch_dir": str(watch) if watch else None})
            return _publish(registry_path, decision)

        inputs = [n["path"] for n in new]
        if cumulative:
            earlier = [r["path"] for r in consumed
                       if r.get("source") == "common_crawl" or Path(r.get("abs") or "").is_file()]
            inputs = list(dict.fromkeys(earlier + inputs))
        overrides = [f"ingest.inputs={json.dumps(inputs)}", *(set_params or [])]
        decision.update(inputs=[{k: n[k] for k in ("path", "sha256", "size", "source") if k in n} for n in new],
                        ingest_inputs=inputs)
        logger.info("%d new input(s); ingest.inputs = %s", len(new), inputs)

        started = time.time()
        problem: str | None = None
        rows: list[dict[str, Any]] = []
        try:
            state = pipeline(root=str(root_path), targets=targets, force=force, set_params=overrides,
                             return_state=True)
            if state.is_completed():
                rows = state.result()
            else:
                error = state.result(raise_on_failure=False)
                detail = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else state.message
                problem = f"pipeline run {state.type.value.lower()}: {detail}"
        except Exception as exc:  # noqa: BLE001 - any failure to run is a refusal, never a promotion
            problem = f"pipeline run failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        decision["stages"] = rows
        if problem is None:
            problem, complete = _check_run(root_path, rows, targets, metrics_path, started)
            if complete:
                # The graph up to the metrics ran over these inputs: consumed, whatever the decision.
                _append_ledger(ledger_path, [{**n, "consumed_at": _now(), "flow_run_id": run_id} for n in new])

        candidate: dict[str, Any] | None = None
        if problem is None:
            try:
                candidate = json.loads(metrics_path.read_text())
                if not isinstance(candidate, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError) as exc:
                problem = f"metrics file {metrics_path} unreadable: {exc}"

        record = {"flow_run_id": run_id, "inputs": inputs}
        if problem is not None:
            logger.warning("refused: %s", problem)
            decision.update(decision="refused", reason=problem)
            reg.refuse(registry_path, problem, record=record)
            emit_event(RETRAIN_REFUSED, resource={"prefect.resource.id": "crisol.model-registry"},
                       payload={"reason": problem})
            return _publish(registry_path, decision)

        assert candidate is not None
        current_entry = reg.production_entry(registry_path)
        promote, reason, table = compare(rules, candidate, current_entry["metrics"] if current_entry else None)
        decision["comparison"] = table
        record["comparison"] = table
        if promote:
            try:
                entry = reg.register(registry_path, [_resolve(root_path, model_dir)], candidate, root=root_path,
                                     extra={"flow_run_id": run_id, "inputs": inputs, "rules": decision["rules"]})
            except (OSError, reg.RegistryError) as exc:
                promote, reason = False, f"could not register the model: {exc}"
        if promote:
            reg.promote(registry_path, entry["version"], reason=reason, record=record)
            decision.update(decision="promoted", reason=reason, version=entry["version"])
            logger.info("promoted %s: %s", entry["version"], reason)
            emit_event(MODEL_PROMOTED, resource={"prefect.resource.id": f"crisol.model.{entry['version']}"},
                       payload={"version": entry["version"], "reason": reason,
                                "path": str(registry_path / entry["version"])})
        else:
            reg.refuse(registry_path, reason, record={**record, "candidate_metrics": {
                r.name: metric_value(candidate, r.name) for r in rules}})
            decision.update(decision="refused", reason=reason)
            logger.warning("refused: %s", reason)
            emit_event(RETRAIN_REFUSED, resource={"prefect.resource.id": "crisol.model-registry"},
                       payload={"reason": reason})
        return _publish(registry_path, decision)


# --- announcing new data -------------------------------------------------------------------------

def announce(watch_dir: str | None = None, common_crawl_paths: list[str] | None = None,
             flush: bool = True) -> Any:
    """Emit `crisol.crawl.landed` so a deployment's event trigger starts a retraining. The payload
    carries both parameters (`watch_dir`, `common_crawl_paths`; null when not given), for the
    trigger to pass on as `{{ event.payload.watch_dir }}` and `{{ event.payload.common_crawl_paths }}`.
    Returns the event (None when no Prefect API is configured to receive it)."""
    if not watch_dir and not common_crawl_paths:
        raise ValueError("announce what? give a directory or Common Crawl paths")
    directory = str(Path(watch_dir).resolve()) if watch_dir else None
    files = []
    if directory:
        files = sorted(p.relative_to(directory).as_posix() for p in Path(directory).rglob("*")
                       if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in DEFAULT_PATTERNS))
    resource_id = f"crisol.crawl.{directory}" if directory else "crisol.crawl.common-crawl"
    event = emit_event(CRAWL_LANDED, resource={"prefect.resource.id": resource_id,
                                               "prefect.resource.name": directory or "common crawl"},
                       payload={"watch_dir": directory, "common_crawl_paths": list(common_crawl_paths or []) or None,
                                "files": files[:1000]})
    if flush:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=30)  # a CLI process must not exit with the event still queued
    return event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.retrain", description=retrain.__doc__.split("\n\n")[0])
    parser.add_argument("--watch-dir", help="directory of WARC/WET files; new ones (not in the ledger) are used")
    parser.add_argument("--cc-path", dest="common_crawl_paths", action="append",
                        help="a Common Crawl path or listing for ingest.inputs (repeatable)")
    parser.add_argument("--metric", dest="metrics", action="append", metavar="NAME:max|min[:TOL]",
                        help=f"promotion rule (repeatable; default {' '.join(DEFAULT_METRICS)})")
    parser.add_argument("--root", default=str(REPO_ROOT))
    parser.add_argument("--registry", help="registry directory (default <root>/models/registry)")
    parser.add_argument("--metrics-file", default=DEFAULT_METRICS_FILE)
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR)
    parser.add_argument("--cumulative", action="store_true", help="train on every input consumed so far, not just the new ones")
    parser.add_argument("--target", dest="targets", action="append")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--set", dest="set_params", action="append", metavar="SECTION.KEY=VALUE")
    parser.add_argument("--announce", metavar="DIR", nargs="?", const="", default=None,
                        help=f"only emit {CRAWL_LANDED} for DIR (and/or --cc-path) and exit")
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
    decision = retrain(watch_dir=watch, common_crawl_paths=args.common_crawl_paths, metrics=args.metrics,
                       root=args.root, registry=args.registry, metrics_file=args.metrics_file,
                       model_dir=args.model_dir, cumulative=args.cumulative, targets=args.targets,
                       force=args.force, set_params=args.set_params)
    print(decision["markdown"])
    return 0 if decision["decision"] != "refused" else 2


if __name__ == "__main__":
    sys.exit(main())
