"""The tokenizer stage on documents written directly: outputs, the split, executors, bad input."""

from __future__ import annotations

import json

import numpy as np

from crisol.formats.tokenizer_file import load_tokenizer
from crisol.formats.tokens import TokenSplit
from kit.documents import document, write_documents
from kit.stages import run_stage
from kit.tokenizer import corpus_text, tokenize, write_params
from stages.tokenizer.selection import is_validation


def split_ids(tokens_dir, split: str) -> set[str]:
    s = TokenSplit(tokens_dir / split)
    return {d for i in s.shard_indices for d in s.documents(i).column("doc_id").to_pylist()}


def decoded_documents(result, split: str) -> dict[str, str]:
    tokenizer = load_tokenizer(result["tokenizer"])
    s = TokenSplit(result["tokens"] / split)
    out = {}
    for i in s.shard_indices:
        tokens, index = s.tokens(i), s.documents(i).to_pydict()
        for doc_id, start, length in zip(index["doc_id"], index["start"], index["length"]):
            out[doc_id] = tokenizer.decode(tokens[start : start + length].tolist(), skip_special_tokens=False)
    return out


def test_documents_come_back_exactly_in_their_split(tmp_path):
    texts = corpus_text(60) + ["Text with a literal <|eos|> marker and <|user|> too."]
    result = tokenize(tmp_path, texts, row_group=16, validation_fraction=0.2)
    by_id = {f"doc-{i}": t for i, t in enumerate(texts)}
    train, validation = decoded_documents(result, "train"), decoded_documents(result, "validation")
    assert not train.keys() & validation.keys() and (train.keys() | validation.keys()) == by_id.keys()
    assert all(by_id[k] == v for k, v in {**train, **validation}.items())
    assert validation.keys() == {k for k in by_id if is_validation(k, 0.2, "crisol-split-1")} != set()
    metrics = result["metrics"]
    assert metrics["documents_out"] == {"train": len(train), "validation": len(validation)}
    assert metrics["dtype"] == "uint16" and metrics["validation"]["bytes_per_token"] > 1.5
    report = json.loads((result["tokenizer"] / "report.json").read_text())
    assert report["vocabulary_use"]["used_in_train"] > 0 and len(report["longest_tokens"]) == 20
    assert (result["tokenizer"] / "report.md").read_text().startswith("# Tokenizer report")


def test_literal_special_strings_never_become_special_ids(tmp_path):
    result = tokenize(
        tmp_path, corpus_text(10) + ["<|eos|> in the middle <|assistant|> of a page"] * 3, validation_fraction=0.0
    )
    split = TokenSplit(result["tokens"] / "train")
    tokens = np.concatenate([split.tokens(i) for i in split.shard_indices])
    specials = tokens[tokens < 11]
    assert set(specials.tolist()) == {split.manifest.eos_id}
    assert len(specials) == result["metrics"]["documents_out"]["train"] == 13


def test_adding_documents_never_moves_old_ones(tmp_path):
    texts = corpus_text(80)
    ids = [f"page-{i}" for i in range(80)]
    first = tokenize(tmp_path / "a", texts[:50], ids[:50], validation_fraction=0.3)
    second = tokenize(tmp_path / "b", texts, ids, validation_fraction=0.3)
    for split in ("train", "validation"):
        assert split_ids(first["tokens"], split) <= split_ids(second["tokens"], split)


def test_executors_do_not_change_the_output(tmp_path, dask_cluster):
    texts = corpus_text(90)
    common = {"row_group": 20, "docs_per_shard": 20, "validation_fraction": 0.2}
    one = tokenize(tmp_path / "one", texts, workers=1, **common)
    files = sorted(p.relative_to(one["tokens"]) for p in one["tokens"].rglob("*.arrow"))
    assert len(files) == 2 * 5 * 2  # 2 splits x 5 shards x (tokens, index)
    for name, executor in {
        "processes": {"workers": 2},
        "dask": {"dask_address": dask_cluster.scheduler_address},
    }.items():
        other = tokenize(tmp_path / name, texts, **executor, **common)
        for rel in files:
            assert (one["tokens"] / rel).read_bytes() == (other["tokens"] / rel).read_bytes(), (name, rel)
        assert (one["tokenizer"] / "tokenizer.json").read_text() == (other["tokenizer"] / "tokenizer.json").read_text()


def test_only_special_token_documents_are_skipped_and_counted(tmp_path):
    result = tokenize(tmp_path, corpus_text(20) + ["<|eos|><|eos|>", " <|user|>\n<|assistant|> ", "", "   "])
    assert result["metrics"]["skipped"] == {"empty_text": 2, "only_special_tokens": 2}
    assert sum(result["metrics"]["documents_out"].values()) == 20


def test_empty_corpus_is_a_clear_error(tmp_path, capsys):
    params = write_params(tmp_path, write_documents(tmp_path / "in", []))
    assert run_stage("tokenizer", params) == 1
    assert "no documents" in capsys.readouterr().err


def test_corpus_of_only_special_tokens_is_a_clear_error(tmp_path, capsys):
    docs = [document(f"d{i}", "<|bos|> <|eos|>") for i in range(5)]
    params = write_params(tmp_path, write_documents(tmp_path / "in", docs))
    assert run_stage("tokenizer", params) == 1
    err = capsys.readouterr().err
    assert "no usable training text" in err and "5 only_special_tokens" in err


def test_vocabulary_smaller_than_bytes_and_specials_is_a_clear_error(tmp_path, capsys):
    params = write_params(tmp_path, write_documents(tmp_path / "in", [document("d", "some text")]))
    assert run_stage("tokenizer", params, "tokenizer.vocab_size=260") == 2
    err = capsys.readouterr().err
    assert "vocab_size 260" in err and "byte alphabet (256) plus 11 special tokens" in err


def test_bad_split_pattern_is_a_clear_error(tmp_path, capsys):
    params = write_params(tmp_path, write_documents(tmp_path / "in", [document("d", "some text")]))
    assert run_stage("tokenizer", params, "tokenizer.pretokenize_pattern=([unclosed") == 2
    assert "tokenizer.pretokenize_pattern" in capsys.readouterr().err


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert run_stage("tokenizer", write_params(tmp_path, tmp_path / "absent")) == 1
    assert "input not found" in capsys.readouterr().err
