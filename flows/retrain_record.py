"""The record of a retraining decision: its markdown (the Prefect artifact `retrain-decision`, and
what `python -m flows.retrain` prints), published with production's version after the decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect.artifacts import create_markdown_artifact

from flows import registry as reg
from flows.gate import fmt_value

ARTIFACT_KEY = "retrain-decision"
LISTED_INPUTS = 50  # a decision lists at most this many inputs, then counts the rest


def publish(registry: Path, decision: dict[str, Any]) -> dict[str, Any]:
    """Complete `decision` with production's version now and its markdown, and publish it as the
    artifact; returns it."""
    decision["production"] = (reg.production(registry) or {}).get("version")
    decision["markdown"] = decision_markdown(decision)
    create_markdown_artifact(
        key=ARTIFACT_KEY, markdown=decision["markdown"], description=f"crisol-retrain decision: {decision['decision']}"
    )
    return decision


def decision_markdown(decision: dict[str, Any]) -> str:
    kind = decision["decision"]
    title = {"promoted": f"promoted {decision.get('version')}", "refused": "refused", "nothing_new": "nothing new"}[
        kind
    ]
    lines = [f"# Retraining: {title}", "", f"**Reason:** {decision['reason']}", ""]
    prod = decision.get("previous_production")
    lines.append(f"Production before: `{prod or 'none'}` · after: `{decision.get('production') or 'none'}`")
    lines += _comparison_table(decision.get("comparison") or [], prod)
    lines += _inputs_list(decision.get("inputs") or [])
    lines += _stages_table(decision.get("stages") or [])
    if decision.get("flow_run_id"):
        lines += ["", f"Flow run: `{decision['flow_run_id']}`"]
    return "\n".join(lines) + "\n"


def _comparison_table(rows: list[dict[str, Any]], production: str | None) -> list[str]:
    if not rows:
        return []
    lines = [
        "",
        f"| metric | goal | production ({production or 'none'}) | candidate | change | verdict |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        change = "—" if r["change"] is None else f"{r['change']:+.4g}"
        lines.append(
            f"| {r['metric']} | {r['goal']} | {fmt_value(r['production'])} | {fmt_value(r['candidate'])} "
            f"| {change} | {r['verdict']} |"
        )
    return lines


def _inputs_list(inputs: list[dict[str, Any]]) -> list[str]:
    if not inputs:
        return []
    lines = ["", f"New inputs ({len(inputs)}):", ""]
    lines += [
        f"- `{i['path']}`" + (f" (sha256 {i['sha256'][:12]}, {i['size']:,} bytes)" if i.get("sha256") else "")
        for i in inputs[:LISTED_INPUTS]
    ]
    if len(inputs) > LISTED_INPUTS:
        lines.append(f"- ... and {len(inputs) - LISTED_INPUTS} more")
    return lines


def _stages_table(stages: list[dict[str, Any]]) -> list[str]:
    if not stages:
        return []
    return [
        "",
        "| stage | outcome | seconds |",
        "|---|---|---:|",
        *(
            f"| {s['stage']} | {s['outcome']} | {s.get('seconds') if s.get('seconds') is not None else '—'} |"
            for s in stages
        ),
    ]
