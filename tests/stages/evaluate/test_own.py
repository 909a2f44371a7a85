"""The evaluate stage with `source: own` at toy size: the micro chain's models (SFT, reward, PPO),
a user's eval folder (a HellaSwag-format file, a QA file, a held-out .txt, a file of an unknown
type), PPO's held-out prompts, and the reward stage's held-out human pairs. Every section reports its n or why it did
not run, the world's sections do not run, no JSON holds a NaN, and the report's funnel starts at
ingest from this run's metrics (the world's web and crawl metrics lying beside them are not read).
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crisol.core.source import DataSource
from crisol.formats.artifacts import write_parquet
from crisol.formats.conversations import PREFERENCE_PAIRS
from kit.evaluate import token_splits
from kit.rlhf import run_micro_stage
from stages.evaluate.own_suite import WORLD_PARTS, own_suite
from stages.evaluate.params import EvaluateParams

MC = [
    {
        "ctx": "Cooking: She cracks the eggs into the bowl",
        "endings": ["and whisks them.", "a car.", "the moon.", "of a sudden."],
        "label": 0,
    },
    {
        "ctx": "Rivers: The river runs through the old town",
        "endings": ["and then it goes on.", "a cat.", "into the sea.", "nowhere."],
        "label": 2,
    },
] * 3
QA = [
    {"question": "What is the capital of France?", "answers": ["Paris"]},
    {"question": "Who wrote Hamlet?", "answers": ["William Shakespeare", "Shakespeare"]},
    {
        "question": "Where does the river end?",
        "answers": ["the sea"],
        "context": "The river runs through the old town and into the sea.",
    },
    {"question": "What colour is the sky?", "answers": ["blue"]},
    {"question": "", "answers": ["nothing"]},  # skipped: empty_question
    {"question": "How many legs has a cat?", "answers": []},
]  # skipped: no_answers
PROMPTS = [[{"role": "user", "content": f"Tell me about the number {i}."}] for i in range(12)] + [
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
]
PAIRS = [
    ("What is two plus two?", "Four.", "Seven hundred."),
    ("Name a colour.", "Blue.", "I refuse."),
    ("Say hi.", "Hi!", "No."),
]


def _pair(number: int, split: str, kind: str, prompt: str, chosen: str, rejected: str) -> dict:
    return {
        "id": f"p{number}",
        "split": split,
        "kind": kind,
        "prompt": [{"role": "user", "content": prompt}],
        "chosen": chosen,
        "rejected": rejected,
        "chosen_finished": True,
        "rejected_finished": True,
        "source": f"pairs.jsonl:{number}",
    }


def _reward_pairs(path: Path) -> None:
    """The reward stage's pairs file: the held-out human pairs (split test, kind user) beside pairs
    it trained on or picked its step with, which are not scored here."""
    rows = [_pair(i, "test", "user", *pair) for i, pair in enumerate(PAIRS)]
    rows += [
        _pair(7, "train", "user", "Trained on?", "Yes.", "No."),
        _pair(8, "validation", "user", "Picked the step?", "Yes.", "No."),
    ]
    write_parquet(path, PREFERENCE_PAIRS, rows)


THIS_RUN = {
    "ingest": {"files": 2, "records": 40, "kept": 17, "dropped_total": 3},
    "dedup": {"documents_out": 16, "dropped": {"exact": 1, "near": 0}},
    "tokenizer": {"tokens": {"train": 4321, "validation": 765}},
}


def _strict(text: str):
    def refuse(constant: str):
        raise AssertionError(f"{constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _own_folder(root: Path, with_qa: bool = True) -> Path:
    own = root / "own"
    _jsonl(own / "eval" / "choices.jsonl", MC)
    if with_qa:
        _jsonl(own / "eval" / "questions.jsonl", QA)
    (own / "eval" / "heldout.txt").write_text(
        "The lighthouse keeper climbs the stairs every evening.\n\nHe lights the lamp and watches the ships pass by.\n"
    )
    (own / "eval" / "notes.md").write_text("not an evaluation file\n")
    with gzip.open(own / "eval" / "more.jsonl.gz", "wt") as out:  # held-out text rows, gzipped
        out.write(json.dumps({"text": "Ships pass the lighthouse at night, one after another."}) + "\n")
        out.write(json.dumps({"text": "   "}) + "\n")  # skipped: empty_text
    return own


def _metrics_in(root: Path, own: Path) -> Path:
    directory = root / "metrics"
    directory.mkdir()
    for stage, metrics in THIS_RUN.items():
        (directory / f"{stage}.json").write_text(json.dumps({**metrics, "source": "own", "own_root": str(own)}))
    # The committed synthetic run's metrics: never this run's.
    (directory / "web.json").write_text(json.dumps({"pages": 987654, "source": "synthetic"}))
    (directory / "crawl.json").write_text(json.dumps({"pages_stored": 987653, "refused_total": 987652}))
    (directory / "pretrain.json").write_text(json.dumps({"parameters": 987651, "source": "synthetic"}))
    return directory


@pytest.fixture(scope="module")
def own_inputs(rlhf_pipeline, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-own")
    pages = pq.read_table(rlhf_pipeline["pages"], columns=["kind", "lang", "main_text"]).to_pylist()
    texts = [p["main_text"] for p in pages if p["lang"] == "en" and p["kind"] == "article" and p["main_text"]][:16]
    splits = token_splits(root / "tokenized", rlhf_pipeline["tokenizer"], texts, validation=6)
    (root / "base").mkdir()
    (root / "base" / "model").symlink_to(rlhf_pipeline["base"])
    reward = root / "reward"
    reward.mkdir()
    (reward / "model").symlink_to(rlhf_pipeline["reward"] / "model")
    _reward_pairs(reward / "pairs.parquet")
    rlhf = root / "rlhf"  # PPO's output: its policy and its held-out prompts
    rlhf.mkdir()
    (rlhf / "model").symlink_to(rlhf_pipeline["ppo"] / "model")
    _jsonl(
        rlhf / "heldout_prompts.jsonl",
        [
            {"id": f"q{i}", "kind": "user", "messages": m, "answer": None, "source": f"prompts.jsonl:{i}"}
            for i, m in enumerate(PROMPTS)
        ],
    )
    section = {
        **EvaluateParams().model_dump(mode="json"),
        "base": str(root / "base"),
        "sft": str(rlhf_pipeline["sft"]),
        "rlhf": str(rlhf),
        "reward": str(reward),
        "tokenizer": str(rlhf_pipeline["tokenizer"]),
        "documents": str(splits["documents"]),
        "validation_tokens": str(splits["validation"]),
        "train_tokens": str(splits["train"]),
        "plots_in": str(root / "no-plots"),
        "out": str(root / "out"),
        "figures": str(root / "figures"),
        "metrics": str(root / "evaluate.json"),
        "multiple_choice_files": [str(root / "absent.jsonl")],
        "max_new_tokens": 8,
        "few_shot": 1,
        "samples": 3,
        "threads": 1,
        "alignment_prompts": 5,
    }
    return {"root": root, "section": section, "reward": reward}


def _run(root: Path, section: dict, own: Path) -> int:
    return run_micro_stage("evaluate", root, section, source="own", own={"root": str(own)})


@pytest.fixture(scope="module")
def evaluated(own_inputs):
    root = own_inputs["root"]
    own = _own_folder(root)
    section = {**own_inputs["section"], "metrics_in": str(_metrics_in(root, own))}
    assert _run(root, section, own) == 0
    out = root / "out"
    return {
        "root": root,
        "out": out,
        "metrics_text": (root / "evaluate.json").read_text(),
        "metrics": _strict((root / "evaluate.json").read_text()),
        "report": (out / "report.md").read_text(),
    }


def test_every_section_has_its_n_or_why_it_did_not_run(evaluated):
    parts = evaluated["metrics"]["parts"]
    for name, part in parts.items():
        if part["ran"]:
            assert isinstance(part["n"], int) and part["n"] > 0, name
        else:
            assert isinstance(part["why"], str) and part["why"], name
    held = parts["heldout_documents"]
    assert held["ran"] and held["eval_file_documents"] == 2 and held["validation_split_documents"] == 6
    assert held["n"] == 8 and held["bytes"] > 0
    assert parts["eval_choices"] == {"ran": True, "n": 6, "section": "multiple choice", "over_length": 0}
    absent = next(part for name, part in parts.items() if name.endswith("_absent"))  # the default file, missing
    assert not absent["ran"] and absent["why"].endswith("absent.jsonl not found")
    qa = parts["eval_questions"]
    assert qa["ran"] and qa["shots"] == 1 and qa["n"] == 3  # 4 usable rows, one of them the shot
    rm = parts["rm_accuracy"]
    assert rm["ran"] and rm["n"] == 3 and 0.0 <= rm["accuracy"] <= 1.0
    alignment = parts["alignment"]
    assert alignment["ran"] and 0 < alignment["n"] <= 5 and "PPO's held-out prompts (13," in alignment["prompts"]
    for world in WORLD_PARTS:
        assert parts[world]["ran"] is False and "synthetic world" in parts[world]["why"]


def test_own_figures_beside_their_baselines(evaluated):
    models = evaluated["metrics"]["models"]
    for model in ("base", "sft", "rlhf"):
        held = models[model]["heldout_documents"]
        assert held["bits_per_byte"] > 0 and held["unigram_bits_per_byte"] > 0
        assert set(held["by_origin"]) == {"validation_split", "eval_files"}
        assert {"acc", "acc_norm", "acc_stderr", "n"} <= set(models[model]["eval_choices"])
        assert "completion_choice" not in models[model] and "closed_book" not in models[model]
    assert {"eval_questions_0shot", "eval_questions_1shot"} <= set(models["base"])
    assert {"exact_match", "f1", "n"} <= set(models["sft"]["eval_questions"])
    rlhf = models["rlhf"]["alignment"]
    assert rlhf["win_judge"] == "reward model" and 0.0 <= rlhf["win_rate_vs_sft"] <= 1.0
    assert "gold_score" not in rlhf and models["sft"]["alignment"]["kl"] == 0.0
    assert "rlhf_win_rate_vs_sft" in evaluated["metrics"] and "rm_heldout_accuracy" in evaluated["metrics"]
    assert not any(k.endswith("_gold_score") for k in evaluated["metrics"])
    skipped = evaluated["metrics"]["skipped"]
    assert "unknown file type" in next(v for k, v in skipped.items() if k.endswith("notes.md"))
    assert "empty_question 1" in skipped["eval_questions rows"] and "no_answers 1" in skipped["eval_questions rows"]
    assert skipped["held-out text rows"] == "empty_text 1"


def test_no_nan_in_any_json(evaluated):
    assert "NaN" not in evaluated["metrics_text"]
    for path in evaluated["out"].rglob("*.json"):
        _strict(path.read_text())
    for path in evaluated["out"].rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            _strict(line)


def test_the_report_states_sections_and_a_funnel_from_ingest(evaluated):
    report = evaluated["report"]
    funnel = report.split("## Data funnel")[1].split("## Tokenizer")[0]
    assert "pages crawled" not in funnel and "987" not in report  # web / crawl / stale metrics unread
    for row in (
        "| input files read by ingest | 2 |",
        "| documents kept by ingest | 17 |",
        "| documents after dedup | 16 |",
        "| training tokens | 4,321 |",
    ):
        assert row in funnel, row
    assert "pretrain.json is from another run" in report
    sections = report.split("### Sections")[1]
    for name in ("heldout_documents", "eval_choices", "eval_questions", "rm_accuracy", "alignment"):
        assert f"| {name} | ran |" in sections, name
    for name in WORLD_PARTS:
        assert f"| {name} | not run |" in sections and "not run: source is own" in sections
    assert "held-out text: bits per byte" in report and "win rate over SFT (reward model)" in report
    assert "eval_choices: acc_norm" in report and "eval_questions: exact match" in report
    speedrun = report.split("## Speedrun")[1].split("## Data funnel")[0]
    assert "| n/a (own data) |" in speedrun, "the synthetic world's headline figures: n/a, not a crash"


def test_sections_without_their_files_say_why(own_inputs, rlhf_pipeline, tmp_path):
    own = _own_folder(tmp_path, with_qa=False)
    params = EvaluateParams(
        **{**own_inputs["section"], "reward": str(tmp_path / "no-reward"), "rlhf": str(tmp_path / "no-ppo")}
    )
    suite = own_suite(DataSource("own", own), params, logging.getLogger("test"))
    parts = suite.parts
    assert "pairs.parquet not found" in parts["rm_accuracy"]["why"]
    assert "no QA file" in parts["qa"]["why"]
    assert not parts["alignment"]["ran"] and "heldout_prompts.jsonl not found" in parts["alignment"]["why"]
    assert not suite.aligned and suite.preference_pairs is None


def test_undefined_figures_are_null_not_nan():
    from stages.evaluate.safe_json import dumps_strict
    from stages.evaluate.stage import evaluation_table, headline

    nan = float("nan")
    summary = {
        "sft": {"alignment": {"n": 0, "rm_score": nan, "kl": nan, "kl_stderr": nan}},
        "base": {"mc": {"n": 0, "acc_norm": nan, "random_baseline": nan}},
    }
    assert headline(summary, 3) == {}  # was {"sft_kl": nan}: the NaN the metrics JSON held
    _, rows = evaluation_table(summary, 3, ["mc"])
    assert all("nan" not in cell for row in rows for cell in row)
    assert json.loads(dumps_strict({"a": nan, "b": [float("inf"), 1.5]})) == {"a": None, "b": [None, 1.5]}


def test_prompts_and_questions_longer_than_the_context_are_counted_out(own_inputs, rlhf_pipeline, tmp_path):
    from crisol.chat.template import ChatTemplate
    from stages.evaluate.own_suite import fit_to_context

    own = _own_folder(tmp_path)
    _jsonl(own / "eval" / "questions.jsonl", [QA[0], QA[1], QA[3], {"question": "Why? " * 80, "answers": ["because"]}])
    params = EvaluateParams(**{**own_inputs["section"], "few_shot": 0})
    suite = own_suite(DataSource("own", own), params, logging.getLogger("test"))
    template = ChatTemplate.from_file(rlhf_pipeline["tokenizer"])
    fit_to_context(suite, template, context=64, max_new_tokens=8)
    qa = suite.parts["eval_questions"]
    assert qa["ran"] and qa["over_length"] == 1 and qa["n"] == 3 == len(suite.qsets[0].questions)
    fit_to_context(suite, template, context=9, max_new_tokens=8)  # nothing fits any more
    assert not suite.parts["eval_questions"]["ran"] and "too long" in suite.parts["eval_questions"]["why"]
    assert not suite.parts["alignment"]["ran"] and not suite.aligned and not suite.qsets
