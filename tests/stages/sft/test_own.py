"""The sft stage with `source: own`: the real Alpaca sample (../shared/data/real) under
own.root/instructions, with a gzipped Dolly file beside it, and no world read even where its files
are named: the user's rows split train / validation / test, the step kept by validation loss, the
test rows' loss for the SFT model against the base model, the world-only figures null with the
reason in `parts`; without instruction files, a one-line error."""

from __future__ import annotations

import csv
import gzip
import json
import math
import shutil
from pathlib import Path

import pytest

from crisol.core.hashsplit import content_split
from crisol.formats.conversations import read_examples
from kit.sft import make_model_inputs, run_sft
from stages.sft.params import UserDataParams
from stages.sft.train import selection

ALPACA = ("real", "instructions", "alpaca-format-sample.json")
CONTEXT = 256  # the small test tokenizer spends many tokens on real text: ~280 of 700 rows fit
DOLLY = [
    {"instruction": f"What is {i} plus {i}?", "context": "", "response": f"{2 * i}.", "category": "qa"}
    for i in range(40)
]
WORLD_ONLY = (
    "heldout_fact_exact_match",
    "invented_idk_exact_match",
    "heldout_two_hop_exact_match",
    "few_shot_base_fact_exact_match",
)


def no_nan(text: str) -> dict:
    def refuse(constant: str):
        raise AssertionError(f"{constant} in a JSON file")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def own_root(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("own")
    (root / "instructions" / "more").mkdir(parents=True)
    shutil.copy(shared_data.joinpath(*ALPACA), root / "instructions")
    lines = "".join(json.dumps(r) + "\n" for r in DOLLY).encode()
    (root / "instructions" / "more" / "dolly.jsonl.gz").write_bytes(gzip.compress(lines))
    return root


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own-inputs")
    world = root / "world"
    world.mkdir()
    for name in ("facts.parquet", "pages.parquet"):  # there, but not Parquet: reading them would fail
        (world / name).write_text("not the world")
    return {**make_model_inputs(root, CONTEXT), "facts": world / "facts.parquet", "pages": world / "pages.parquet"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, inputs, own_root) -> Path:
    code, root = run_sft(
        tmp_path_factory.mktemp("own-run"),
        inputs,
        top={"source": "own", "own": {"root": str(own_root)}},
        max_tokens=CONTEXT,
        epochs=1,
    )
    assert code == 0
    return root


def test_own_data_trains_on_the_users_rows_only(trained):
    metrics = no_nan((trained / "metrics.json").read_text())
    data, parts = metrics["data"], metrics["parts"]
    assert metrics["source"] == "own"
    assert parts["generated"]["ran"] is False and "synthetic world" in parts["generated"]["why"]
    assert data["generated"] is None
    user = data["user"]
    assert user["rows"] == 700 + len(DOLLY) and sorted(user["formats"].values()) == ["alpaca", "dolly"]
    assert user["over_length"] == user["skipped"]["over_length"] > 0  # long Alpaca answers, counted
    assert user["kept"] + sum(user["skipped"].values()) == user["rows"]
    assert parts["user"] == {"ran": True, "n": user["kept"], "files": 2}
    splits = data["splits"]
    assert set(splits) == {"train", "validation", "test"} and min(splits.values()) > 0
    assert sum(splits.values()) == user["kept"]
    examples = read_examples(trained / "sft" / "examples.parquet")  # what reward, ppo and evaluate read
    assert {e.kind for e in examples} == {"user"} and len({e.id for e in examples}) == len(examples)
    assert {s: sum(e.split == s for e in examples) for s in splits} == splits
    params = UserDataParams()
    for e in examples:  # each row's split is its content's hash band, whatever the file order
        key = json.dumps(e.messages, sort_keys=True, ensure_ascii=False)
        assert e.split == content_split(key, params.split_salt, params.validation_fraction, params.test_fraction)
    for name in ("model/config.json", "hf/config.json", "hf/tokenizer_config.json", "evaluation.json"):
        assert (trained / "sft" / name).is_file(), name


def test_own_data_is_selected_by_loss_and_tested_against_the_base(trained):
    metrics = no_nan((trained / "metrics.json").read_text())
    assert metrics["selection"]["select_by"] == "loss" and metrics["selection"]["asked"] == "auto"
    with open(trained / "plots" / "validation_loss.csv") as fh:
        curve = [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(fh)]
    assert metrics["best_step"] == min(curve, key=lambda point: point[1])[0]
    with open(trained / "plots" / "validation_exact_match.csv") as fh:
        assert list(csv.DictReader(fh)) == []  # no questions asked: an empty curve
    tested = metrics["user_test"]
    assert tested["n"] == metrics["data"]["splits"]["test"] == metrics["parts"]["user_test"]["n"]
    assert tested["assistant_tokens"] > tested["n"]
    for model in ("base", "sft"):
        assert math.isclose(tested[model]["perplexity"], math.exp(tested[model]["loss"]), rel_tol=1e-3)
    assert (
        metrics["heldout_user_loss"]
        == tested["sft"]["loss"]
        < tested["base"]["loss"]
        == metrics["base_heldout_user_loss"]
    )  # a random base: any training helps
    assert metrics["samples"] and all(s["kind"] == "user" for s in metrics["samples"])


def test_world_only_figures_are_null_with_the_reason(trained):
    metrics = no_nan((trained / "metrics.json").read_text())
    for key in WORLD_ONLY:
        assert key in metrics and metrics[key] is None, key
    assert metrics["test"] is None and metrics["baseline_few_shot"] is None
    assert metrics["chance"] == {"fact_exact_match": None}
    assert metrics["parts"]["world_test"]["ran"] is False and metrics["parts"]["world_test"]["why"]
    assert no_nan((trained / "sft" / "evaluation.json").read_text())["test"] == []


def test_own_without_instructions_is_a_one_line_error(tmp_path, inputs, capsys):
    own = tmp_path / "own"
    (own / "text").mkdir(parents=True)
    (own / "text" / "docs.jsonl").write_text('{"text": "not instructions"}\n')
    code, _ = run_sft(tmp_path / "run", inputs, top={"source": "own", "own": {"root": str(own)}}, max_tokens=CONTEXT)
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: sft: source is own") and f"{own / 'instructions'}/" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_select_by_auto_is_exact_match_on_world_questions_and_loss_otherwise():
    assert selection("auto", world_questions=True)[0] == "exact_match"
    assert selection("auto", world_questions=False)[0] == "loss"
    assert selection("exact_match", world_questions=False)[0] == "exact_match"
    assert selection("loss", world_questions=True)[0] == "loss"
