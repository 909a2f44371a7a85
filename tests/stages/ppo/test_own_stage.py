"""The ppo stage on a user's own prompts (source own), through its command line, with the small SFT
and reward models of the RLHF test chain: no gold anywhere (null, never NaN; header-only gold
curves; `parts.gold` says why), the held-out reward score and KL with their standard errors, and a
one-line error, exit 1, when own.root holds no prompts at all."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from kit.rlhf import ppo_section, run_micro_stage
from stages.ppo.stage import GOLD_CURVES

PROMPTS = [
    "Name a colour.",
    "Say hello.",
    "What is two plus two?",
    "Write one word.",
    "Describe the sea.",
    "Who are you?",
    "Give me a number.",
    "Is it raining?",
    "Pick a fruit.",
    "Count to three.",
    "Name a city.",
    "Say goodbye.",
]


def _own_root(tmp_path: Path) -> Path:
    prompts = tmp_path / "own" / "prompts"
    prompts.mkdir(parents=True)
    rows = [{"prompt": p} for p in PROMPTS[:8]] + [{"messages": [{"role": "user", "content": p}]} for p in PROMPTS[8:]]
    (prompts / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    (prompts / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[8:]) + "{broken\n")
    return tmp_path / "own"


def _strict(path: Path):
    """The JSON file parsed, failing on NaN or Infinity anywhere in it."""
    return json.loads(path.read_text(), parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


def test_own_prompts_run_ppo_with_no_gold_and_no_nan(rlhf_pipeline, tmp_path):
    own = _own_root(tmp_path)
    section = ppo_section(
        tmp_path,
        rlhf_pipeline["sft"],
        rlhf_pipeline["reward"],
        rlhf_pipeline["tokenizer"],
        steps=2,
        eval_every=1,
        user={"heldout_fraction": 0.3},
    )
    assert run_micro_stage("ppo", tmp_path, section, source="own", own={"root": str(own)}) == 0
    metrics = _strict(tmp_path / "ppo.json")
    json.dumps(metrics, allow_nan=False)
    assert metrics["source"] == "own" and metrics["training"]["steps"] == 2
    assert metrics["parts"]["gold"]["ran"] is False and "gold score" in metrics["parts"]["gold"]["why"]
    assert metrics["heldout_gold_score"] is None and metrics["sft_heldout_gold_score"] is None
    assert metrics["last_step"]["objective/gold_score"] is None
    prompts = metrics["prompts"]
    assert prompts["from"] == "prompt files" and prompts["kept"] == 12 and prompts["skipped"] == {"bad_json": 1}
    held = metrics["heldout"]
    assert held["prompts"] == prompts["heldout_available"]
    assert metrics["training"]["prompts"] == prompts["train_available"]
    for entry in (held["sft"], held["ppo"]):
        assert entry["gold_score"] is None and entry["gold_by_kind"] is None
        assert isinstance(entry["rm_score"], float) and isinstance(entry["kl"], float)
    assert held["sft"]["kl"] == 0.0 and held["ppo"]["step"] == 2
    for name in GOLD_CURVES:  # declared plots: present, with no rows
        assert (tmp_path / "ppo-plots" / f"{name}.csv").read_text().startswith("step,")
        assert list(csv.DictReader((tmp_path / "ppo-plots" / f"{name}.csv").open())) == []
    curve = list(csv.DictReader((tmp_path / "ppo-plots" / "heldout_rm_score.csv").open()))
    assert [int(r["step"]) for r in curve] == [0, 1, 2]
    samples = _strict(tmp_path / "ppo" / "samples.json")
    assert samples and all(s["gold"] is None and s["gold_score"] is None and s["question"] in PROMPTS for s in samples)
    asked = [json.loads(line) for line in (tmp_path / "ppo" / "heldout_prompts.jsonl").read_text().splitlines()]
    assert len(asked) == held["prompts"] and all(a["answer"] is None for a in asked)


def test_own_without_any_prompts_is_a_one_line_error(rlhf_pipeline, tmp_path, capsys):
    own = tmp_path / "own"
    own.mkdir()
    section = ppo_section(tmp_path, rlhf_pipeline["sft"], rlhf_pipeline["reward"], rlhf_pipeline["tokenizer"])
    assert run_micro_stage("ppo", tmp_path, section, source="own", own={"root": str(own)}) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and str(own / "prompts") in err[0] and "'prompt' or 'messages'" in err[0]
    assert not (tmp_path / "ppo.json").exists()
