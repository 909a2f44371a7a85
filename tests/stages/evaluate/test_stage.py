"""The evaluate stage end to end on the micro chain (SFT, reward and PPO with small models): every
model scored on every task, results in lm-evaluation-harness's shape, a report card with base,
SFT and RLHF side by side, bad multiple-choice rows counted and a missing file skipped with its
reason."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest

from kit.evaluate import LM_EVAL_RESULTS_KEYS
from kit.rlhf import run_micro_stage
from kit.tokenizer import tokenize
from stages.evaluate.params import EvaluateParams

GOOD = {
    "ctx": "Cities: The river runs through the old town",
    "endings": ["and then it goes on.", "a cat.", "into the sea.", "nowhere."],
    "label": 2,
}
BAD_ROWS = [
    {"ctx": "No label here", "endings": ["a", "b", "c", "d"]},
    {"ctx": "Three endings", "endings": ["a", "b", "c"], "label": 0},
    {"ctx": "", "endings": ["a", "b", "c", "d"], "label": 1},
]
MODELS = ("base", "sft", "rlhf")


@pytest.fixture(scope="module")
def evaluated(rlhf_pipeline, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    pages = pq.read_table(rlhf_pipeline["pages"], columns=["kind", "lang", "main_text"]).to_pylist()
    texts = [p["main_text"] for p in pages if p["lang"] == "en" and p["kind"] == "article" and p["main_text"]][:16]
    # The real tokenizer stage splits these documents; evaluate reads only which ids are held out.
    split = tokenize(root / "tokenized", texts, validation_fraction=0.5)
    (root / "base").mkdir()
    (root / "base" / "model").symlink_to(rlhf_pipeline["base"])
    mc = root / "mc" / "items.jsonl"
    mc.parent.mkdir()
    mc.write_text("".join(json.dumps(r) + "\n" for r in [GOOD] * 4 + BAD_ROWS) + "{broken\n")
    section = {
        **EvaluateParams().model_dump(mode="json"),
        "base": str(root / "base"),
        "sft": str(rlhf_pipeline["sft"]),
        "rlhf": str(rlhf_pipeline["ppo"]),
        "reward": str(rlhf_pipeline["reward"]),
        "tokenizer": str(rlhf_pipeline["tokenizer"]),
        "documents": str(root / "tokenized" / "in"),
        "validation_tokens": str(split["tokens"] / "validation"),
        "metrics_in": str(rlhf_pipeline["root"]),
        "plots_in": str(root / "no-plots"),
        "out": str(root / "out"),
        "figures": str(root / "figures"),
        "metrics": str(root / "evaluate.json"),
        "multiple_choice_files": [str(mc), str(mc.parent / "absent.jsonl")],
        "completion_items": 20,
        "open_book_items": 10,
        "max_new_tokens": 8,
        "few_shot": 2,
        "samples": 3,
        "threads": 1,
    }
    assert run_micro_stage("evaluate", root, section) == 0
    return {"root": root, "out": root / "out", "metrics": json.loads((root / "evaluate.json").read_text())}


def test_every_model_gets_every_task_in_lm_eval_shape(evaluated):
    for model in MODELS:
        document = json.loads((evaluated["out"] / "results" / f"{model}.json").read_text())
        assert LM_EVAL_RESULTS_KEYS <= set(document)
        tasks = set(document["results"])
        assert {"heldout_documents", "completion_choice", "mc_items"} <= tasks
        if model == "base":
            assert {"closed_book_0shot", "closed_book_2shot", "hallucination_0shot"} <= tasks
        else:
            assert {"closed_book", "hallucination", "alignment"} <= tasks
        block = document["results"]["completion_choice"]
        assert 0.0 <= block["acc_norm,none"] <= 1.0 and "acc_norm_stderr,none" in block
        assert block["random_baseline,none"] == pytest.approx(0.25)
        assert document["results"]["heldout_documents"]["bits_per_byte,none"] > 0
        assert (evaluated["out"] / "samples" / model / "completion_choice.jsonl").is_file()


def test_alignment_figures_compare_with_the_sft_model(evaluated):
    models = evaluated["metrics"]["models"]
    assert models["sft"]["alignment"]["kl"] == 0.0  # the SFT model against itself
    assert "win_rate_vs_sft" not in models["sft"]["alignment"]
    rlhf = models["rlhf"]["alignment"]
    assert 0.0 <= rlhf["win_rate_vs_sft"] <= 1.0 and rlhf["n"] > 0
    assert math.isfinite(rlhf["gold_score"]) and math.isfinite(rlhf["rm_score"])
    headline = evaluated["metrics"]
    for model in MODELS:
        assert f"{model}_bits_per_byte" in headline and f"{model}_hallucination_rate" in headline
    assert "rlhf_win_rate_vs_sft" in headline


def test_bad_rows_are_counted_and_a_missing_file_is_skipped(evaluated):
    skipped = evaluated["metrics"]["skipped"]
    assert skipped["mc_absent"].endswith("absent.jsonl not found")
    reasons = skipped["mc_items rows"]
    for reason in ("missing_label 1", "wrong_number_of_endings 1", "empty_context 1", "bad_json 1"):
        assert reason in reasons
    assert evaluated["metrics"]["models"]["base"]["mc_items"]["n"] == 4


def test_the_report_card_shows_the_models_side_by_side(evaluated):
    report = (evaluated["out"] / "report.md").read_text()
    assert "| metric | base 0-shot | base 2-shot | SFT | RLHF | chance |" in report
    for row in (
        "bits per byte",
        "closed-book QA: exact match",
        "hallucination rate",
        "gold score",
        "win rate over SFT",
    ):
        assert row in report, row
    assert "## Data funnel" in report and "## Sample generations: rlhf" in report
    assert report.index("## Speedrun") < report.index("## Data funnel"), "the speedrun line comes first"
    line = json.loads((evaluated["out"] / "speedrun.json").read_text())
    assert line["seconds"]["evaluate"] > 0 and line["total_seconds"] >= line["seconds"]["evaluate"]
    assert line["figures"]["sft_closed_book_exact_match"] == evaluated["metrics"]["sft_closed_book_exact_match"]
    table = json.loads((evaluated["out"] / "table.json").read_text())
    assert table["headers"][1:5] == ["base 0-shot", "base 2-shot", "SFT", "RLHF"]
    assert any(p.suffix == ".png" for p in (evaluated["root"] / "figures").iterdir())
