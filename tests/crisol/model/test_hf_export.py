"""Hugging Face export: transformers loads it offline and computes our logits."""

from __future__ import annotations

import json

import pytest
import torch

from crisol.core.errors import StageInputError
from crisol.model import ModelConfig, Transformer, export_hf, generate

transformers = pytest.importorskip("transformers", reason="transformers is needed to check the HF export")

VOCAB = 120


def perturbed(config: ModelConfig) -> Transformer:
    torch.manual_seed(2)
    model = Transformer(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # norm weights away from 1, so a dropped one shows
    return model.eval()


def load_hf(directory):
    return transformers.AutoModelForCausalLM.from_pretrained(directory, local_files_only=True).eval()


@pytest.mark.parametrize(
    "tie, kv_heads", [(True, 2), (False, 2), (False, 1), (True, 1)], ids=["tied", "untied", "gqa-untied", "gqa-tied"]
)
def test_transformers_loads_the_export_and_logits_match(tmp_path, tie, kv_heads):
    config = ModelConfig.from_depth(2, VOCAB, 64, tie_embeddings=tie, n_kv_heads=kv_heads, rope_theta=500.0)
    model = perturbed(config)
    export_hf(model, tmp_path / "hf", eos_id=3)
    hf = load_hf(tmp_path / "hf")
    assert type(hf).__name__ == "LlamaForCausalLM"
    assert hf.config.num_key_value_heads == kv_heads and hf.config.tie_word_embeddings == tie
    assert hf.config.rope_parameters["rope_theta"] == 500.0
    ids = torch.randint(0, VOCAB, (2, 50))
    with torch.no_grad():
        ours, theirs = model(ids)[0], hf(ids).logits
    assert (ours - theirs).abs().max().item() <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]


def test_greedy_generation_matches_transformers(tmp_path):
    model = perturbed(ModelConfig.from_depth(2, VOCAB, 64, n_kv_heads=1))
    export_hf(model, tmp_path / "hf")
    hf = load_hf(tmp_path / "hf")
    prompt = [5, 9, 77, 3, 14]
    ours = generate(model, [prompt], 12, temperature=0)[0]
    with torch.no_grad():
        theirs = hf.generate(
            torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0
        )[0, len(prompt) :].tolist()
    assert ours == theirs


def write_tokenizer(directory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"])
    tokenizer.train_from_iterator(["the river town of aldoria", "a mayor and a bridge"] * 20, trainer)
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<bos>",
                "eos_token": "<eos>",
                "pad_token": "<pad>",
                "unk_token": "<unk>",
            }
        )
    )
    return tokenizer


def test_tokenizer_files_and_special_ids_come_along(tmp_path):
    tokenizer = write_tokenizer(tmp_path / "tok")
    model = perturbed(ModelConfig.from_depth(1, tokenizer.get_vocab_size(), 32))
    export_hf(model, tmp_path / "hf", tokenizer_dir=tmp_path / "tok", pad_id=0)
    names = sorted(p.name for p in (tmp_path / "hf").iterdir())
    assert names == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (1, 2, 0)
    generation = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert generation["eos_token_id"] == 2
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf", local_files_only=True)
    assert hf_tokenizer.eos_token_id == 2
    assert hf_tokenizer("the river")["input_ids"] == tokenizer.encode("the river").ids


def test_bad_export_inputs(tmp_path):
    model = perturbed(ModelConfig.from_depth(1, VOCAB, 32))
    (tmp_path / "empty").mkdir()
    with pytest.raises(StageInputError, match="tokenizer.json is missing"):
        export_hf(model, tmp_path / "hf", tokenizer_dir=tmp_path / "empty")
    with pytest.raises(ValueError, match="eos_id 500 is outside the vocabulary"):
        export_hf(model, tmp_path / "hf", eos_id=500)
    assert not (tmp_path / "hf").exists()
