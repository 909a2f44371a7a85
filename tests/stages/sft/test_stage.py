"""The sft stage end to end on the micro synthetic world with a small model: its outputs, the
transformers export (chat template token for token, same logits, same greedy reply), frozen
layers, packing, and bad user data counted or refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import read_examples
from crisol.model.sampling import generate
from crisol.model.weights import WEIGHTS_FILE, load_model
from kit.sft import CONTEXT, make_inputs, run_sft


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("sft-inputs"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, inputs) -> Path:
    code, root = run_sft(tmp_path_factory.mktemp("sft-run"), inputs)
    assert code == 0
    return root


def metrics_of(root: Path) -> dict:
    return json.loads((root / "metrics.json").read_text())


def test_outputs_and_metrics(trained):
    out = trained / "sft"
    for name in (
        "model/config.json",
        "hf/config.json",
        "hf/tokenizer_config.json",
        "examples.parquet",
        "evaluation.json",
    ):
        assert (out / name).is_file(), name
    metrics = metrics_of(trained)
    splits = metrics["data"]["splits"]
    assert splits["train"] > 0 and splits["validation"] > 0 and splits["test"] > 0
    # the world's questions are the data: the step is kept by exact match (select_by auto)
    assert metrics["selection"]["select_by"] == "exact_match" and metrics["selection"]["asked"] == "auto"
    assert metrics["parts"]["generated"] == {"ran": True, "n": sum(splits.values())}
    assert metrics["parts"]["world_test"] == {"ran": True, "n": splits["test"]}
    assert metrics["user_test"] is None and metrics["heldout_user_loss"] is None
    curve = metrics["test"]["by_kind"]
    assert set(curve) == {"fact", "idk", "two_hop"}  # held-out entities and invented ones
    assert curve["fact"]["n"] + curve["idk"]["n"] + curve["two_hop"]["n"] == splits["test"]
    assert 0 < metrics["chance"]["fact_exact_match"] < 0.5
    assert metrics["baseline_few_shot"]["all"]["n"] == splits["test"]
    assert [s["kind"] for s in metrics["samples"]] == ["fact", "idk", "two_hop"]  # test kinds first
    assert all(s["reply"] is not None and s["question"] for s in metrics["samples"])
    # the kept step is one that was evaluated, and training lowered the assistant-token loss
    with open(trained / "plots" / "validation_loss.csv") as fh:
        validation = list(csv.DictReader(fh))
    assert int(validation[0]["step"]) == 0
    assert float(validation[-1]["loss"]) < float(validation[0]["loss"])
    assert metrics["training"]["best_step"] in {int(row["step"]) for row in validation}
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert len(evaluation["test"]) == splits["test"]
    examples = read_examples(out / "examples.parquet")
    assert len(examples) == sum(splits.values())


def test_transformers_export_matches_our_template_and_model(trained, inputs):
    transformers = pytest.importorskip("transformers")
    hf_dir = trained / "sft" / "hf"
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(hf_dir))
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(str(hf_dir)).eval()
    ours = load_model(trained / "sft" / "model").eval()
    template = ChatTemplate.from_file(inputs["tokenizer"])
    examples = read_examples(trained / "sft" / "examples.parquet")
    for example in examples[:: max(1, len(examples) // 25)]:
        expected = template.render(example.messages).ids
        got = hf_tokenizer.apply_chat_template(example.messages, tokenize=True, return_dict=False)
        assert list(got) == expected, example.id
        prompt = hf_tokenizer.apply_chat_template(
            example.messages[:-1], tokenize=True, add_generation_prompt=True, return_dict=False
        )
        assert list(prompt) == template.generation_prompt(example.messages[:-1])
    ids = torch.tensor([template.generation_prompt(examples[0].messages[:-1])])
    with torch.no_grad():
        torch.testing.assert_close(hf_model(ids).logits, ours(ids)[0], atol=1e-4, rtol=1e-4)
        hf_out = hf_model.generate(ids, max_new_tokens=8, do_sample=False)[0, ids.shape[1] :].tolist()
    generation = json.loads((hf_dir / "generation_config.json").read_text())
    assert template.end_id in generation["eos_token_id"] and template.eos_id in generation["eos_token_id"]
    ours_out = generate(ours, ids.tolist(), 8, temperature=0.0, stop_ids=template.stop_ids, pad_id=template.pad_id)[0]
    assert hf_out[: len(ours_out)] == ours_out  # transformers keeps the stop token, we cut before it


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_frozen_layers_do_not_move_and_packing_trains(tmp_path, inputs, optimizer):
    code, root = run_sft(tmp_path, inputs, freeze_layers=1, packing=True, epochs=1, optimizer=optimizer)
    assert code == 0
    before = load_file(str(inputs["base"] / WEIGHTS_FILE))
    after = load_file(str(root / "sft" / "model" / WEIGHTS_FILE))
    frozen = [name for name in before if name.startswith("layers.0.")]
    trained = [name for name in before if name.startswith("layers.1.")]
    assert frozen and trained
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert any(not torch.equal(before[n], after[n]) for n in trained)
    metrics = metrics_of(root)
    assert metrics["model"]["trainable_parameters"] < metrics["model"]["parameters"]


def test_bad_user_rows_are_skipped_and_counted(tmp_path, inputs):
    rows = [
        {"instruction": "Say hello.", "input": "", "output": "Hello."},
        {"instruction": "Missing output."},
        {"instruction": "Empty answer.", "output": "   "},
        {"instruction": 7, "output": "wrong type"},
        {"instruction": "Too long. " * 200, "output": "x"},
    ]
    data = tmp_path / "user.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    code, root = run_sft(tmp_path / "run", inputs, epochs=1, user={"inputs": [str(data)]})
    assert code == 0
    user = metrics_of(root)["data"]["user"]
    assert user["rows"] == 6 and user["kept"] == 1
    assert user["skipped"] == {
        "bad_json": 1,
        "missing_field": 1,
        "wrong_type": 1,
        "empty_assistant": 1,
        "over_length": 1,
    }


def test_all_bad_user_input_fails_clearly(tmp_path, inputs, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"instruction": "x", "output": ""}) + "\n" + json.dumps({"instruction": "y"}) + "\n")
    code, _ = run_sft(tmp_path / "run", inputs, user={"inputs": [str(data)], "format": "alpaca"})
    assert code == 1
    assert "no usable row in 2 rows" in capsys.readouterr().err


def test_a_context_shorter_than_max_tokens_is_refused(tmp_path, inputs, capsys):
    code, _ = run_sft(tmp_path, inputs, max_tokens=CONTEXT * 2)
    assert code == 1
    assert "exceeds the model's context" in capsys.readouterr().err
