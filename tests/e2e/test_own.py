"""A user's own data end to end, no synthetic world: the real samples of ../shared/data/real (a
Common Crawl excerpt, C4 documents, Alpaca rows, hh-rlhf pairs) in an own-data folder, the micro
profile, through the Prefect flow from scratch, then `dvc repro` over the same workspace (the
micro test runs `dvc repro` from scratch and the flow after it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.pipeline import dvc_executable, tool_env
from kit.paths import REPO_ROOT
from kit.workspace import project_workspace

SHARED = REPO_ROOT.parent / "shared" / "data"
DVC = dvc_executable()
STAGES = ["ingest", "dedup", "tokenizer", "pretrain", "sft", "reward", "ppo", "evaluate"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (SHARED / "real").is_dir(), reason="../shared/data/real is absent"),
]


def _own_workspace(dest: Path) -> Path:
    """A copy of the project (its dvc.yaml is rendered for own data before the run) and an
    own-data folder beside it made of the shared real samples only."""
    own = dest.parent / f"{dest.name}-own"
    shutil.copytree(SHARED / "real", own, ignore=shutil.ignore_patterns("README*"))
    return project_workspace(
        dest,
        [
            "profile=micro",
            "source=own",
            f"own.root={own}",
            f"evaluate.multiple_choice_files=[{SHARED / 'hellaswag/val_500.jsonl'}]",
        ],
    )


def _strict_json(path: Path):
    def refuse(constant: str):
        raise AssertionError(f"{path}: {constant} in JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _check_outputs(root: Path) -> None:
    assert not (root / "data/web").exists() and not (root / "data/crawl").exists()
    for path in sorted((root / "data").rglob("*.json")):
        _strict_json(path)
    metrics = {name: _strict_json(root / f"data/metrics/{name}.json") for name in STAGES}
    assert all(m["source"] == "own" for m in metrics.values())
    ingest = metrics["ingest"]
    assert ingest["inputs"]["crawl_files"] == 6 and ingest["inputs"]["text_files"] == 1
    assert metrics["pretrain"]["parts"]["fact_probes"]["ran"] is False
    assert metrics["sft"]["parts"]["generated"]["ran"] is False
    assert metrics["reward"]["parts"]["generated"]["ran"] is False
    assert metrics["ppo"]["parts"]["gold"]["ran"] is False
    report = (root / "data/evaluate/report.md").read_text()
    assert "pages crawled" not in report, "the funnel of an own run starts at ingest"
    evaluate = metrics["evaluate"]
    for model in ("base", "sft", "rlhf"):
        assert evaluate[f"{model}_bits_per_byte"] > 0
    lowered = report.lower()
    for needle in ("unigram", "hellaswag", "held-out human pairs", "win rate", "kl"):
        assert needle in lowered, f"the report card lacks {needle!r}"


def _ran(stdout: str) -> list[str]:
    return [line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")]


def test_own_data_through_prefect_flow_then_dvc_repro(prefect_server, tmp_path):
    from flows.pipeline import pipeline

    root = _own_workspace(tmp_path / "flow")
    rows = pipeline(root=str(root))
    assert [(r["stage"], r["outcome"]) for r in rows] == [(stage, "ran") for stage in STAGES]
    _check_outputs(root)

    # `dvc repro` reads the own-data graph the flow rendered: a new preference file reruns exactly
    # what reads the pairs, the reward model and after it.
    own = tmp_path / "flow-own"
    shutil.copy2(own / "preferences/hh-rlhf-harmless-sample.jsonl.gz", own / "preferences/more.jsonl.gz")
    again = subprocess.run([DVC, "repro"], cwd=root, env=tool_env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert _ran(again.stdout) == ["reward", "ppo", "evaluate"]
