"""Shared by the evaluation tests: a tiny random model with weights perturbed away from their
initialisation (so its predictions are far from uniform and ties cannot hide a wrong sum), the
small chat tokenizer written as a transformers-loadable directory, HellaSwag rows, and those rows
as an lm-eval task run through lm_eval.simple_evaluate (lm_eval is imported only there)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from crisol.chat.template import ChatTemplate
from crisol.model import ModelConfig, Transformer, export_hf
from kit.chat import PARAMS, small_tokenizer
from stages.tokenizer.hf_files import write_hf_files

HELLASWAG = ("hellaswag", "val_500.jsonl")
LM_EVAL_TASK = "crisol_hellaswag_local"
# The top-level keys of lm-evaluation-harness's results JSON that ours always has (written here, not
# taken from stages/evaluate/results.py: the tests check our documents against lm-eval's shape).
LM_EVAL_RESULTS_KEYS = {
    "results",
    "configs",
    "versions",
    "n-shot",
    "higher_is_better",
    "n-samples",
    "config",
    "git_hash",
    "date",
}
# Why a test module that needs lm-eval skips (pytest.importorskip("lm_eval", reason=...)).
LM_EVAL_MISSING = "lm-evaluation-harness is not installed (a dev dependency: pip install -e '.[dev]')"


def tiny_model(
    vocab_size: int, max_seq_len: int, *, seed: int = 2, depth: int = 1, d_model: int = 64, tie: bool = True
) -> Transformer:
    torch.manual_seed(seed)
    model = Transformer(ModelConfig.from_depth(depth, vocab_size, max_seq_len, d_model=d_model, tie_embeddings=tie))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def tokenizer_dir(directory: Path) -> Path:
    """tokenizer.json + transformers' files for the small chat tokenizer."""
    directory.mkdir(parents=True, exist_ok=True)
    small_tokenizer().save(str(directory / "tokenizer.json"))
    write_hf_files(directory, PARAMS.special_tokens)
    return directory


def exported_tiny_model(root: Path, max_seq_len: int, *, seed: int) -> tuple[Path, ChatTemplate, Transformer]:
    """A tiny model on the small chat tokenizer, exported with it for transformers to `root/hf`:
    (that directory, the template, the model)."""
    tok_dir = tokenizer_dir(root / "tokenizer")
    template = ChatTemplate.from_file(tok_dir)
    model = tiny_model(template.text_tokenizer.get_vocab_size(), max_seq_len, seed=seed)
    return export_hf(model, root / "hf", tokenizer_dir=tok_dir), template, model


def hellaswag_rows(shared_data: Path, n: int) -> list[dict]:
    """The first n rows of the shared HellaSwag file, as JSON objects (skips the test when absent)."""
    import pytest

    path = shared_data.joinpath(*HELLASWAG)
    if not path.is_file():
        pytest.skip(f"HellaSwag sample not found at {path}")
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def lm_eval_task(rows: list[dict]) -> dict:
    """HellaSwag rows as a custom lm-eval multiple-choice task: doc_to_text ctx, choices endings,
    target label, lm-eval's own " " delimiter, acc and acc_norm."""
    import datasets  # lm_eval's own dependency

    def dataset(**_):
        return {"validation": datasets.Dataset.from_list(rows)}

    return {
        "task": LM_EVAL_TASK,
        "custom_dataset": dataset,
        "output_type": "multiple_choice",
        "validation_split": "validation",
        "doc_to_text": "ctx",
        "doc_to_choice": "endings",
        "doc_to_target": "label",
        "num_fewshot": 0,
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
        "metadata": {"version": 1.0},
    }


def run_lm_eval(lm, rows: list[dict]) -> dict:
    """lm_eval.simple_evaluate of `lm` (an lm-eval model object) on the rows' task, samples logged."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    # No built-in tasks: indexing lm-eval's thousands of task files would take most of the time.
    manager = TaskManager(include_defaults=False)
    return lm_eval.simple_evaluate(
        model=lm, tasks=[lm_eval_task(rows)], num_fewshot=0, bootstrap_iters=0, log_samples=True, task_manager=manager
    )


def sample_lls(output: dict):
    """Per-item, per-choice log-likelihoods from run_lm_eval's logged samples, in document order."""
    import numpy as np

    samples = sorted(output["samples"][LM_EVAL_TASK], key=lambda s: s["doc_id"])
    return np.array([[float(r[0][0]) for r in s["resps"]] for s in samples])


def our_hellaswag_scores(shared_data: Path, model: Transformer, template: ChatTemplate, n: int):
    """The first n HellaSwag rows (what the lm-eval task reads), and our score_multiple_choice's
    per-item records and figures on the same items: (rows, records, figures)."""
    from stages.evaluate.hellaswag import read_hellaswag, score_multiple_choice

    rows = hellaswag_rows(shared_data, n)
    items = read_hellaswag(shared_data.joinpath(*HELLASWAG)).items[:n]
    records, ours = score_multiple_choice(model, template.encode_text, items, pad_id=template.pad_id)
    return rows, records, ours


def assert_lm_eval_scores_as_we_do(lm, rows: list[dict], records: list[dict], ours: dict) -> dict:
    """lm-eval with `lm` on the rows' task gives our acc and acc_norm, counts every row, and logs our
    per-choice log-likelihoods; returns lm-eval's output."""
    import numpy as np

    output = run_lm_eval(lm, rows)
    figures = output["results"][LM_EVAL_TASK]
    assert (figures["acc,none"], figures["acc_norm,none"]) == (ours["acc"], ours["acc_norm"])
    assert output["n-samples"][LM_EVAL_TASK] == {"original": len(rows), "effective": len(rows)}
    # Sums of ~250 float32 terms of ~-4 nats: other batch shapes (one sequence per forward on a
    # server) round differently.
    np.testing.assert_allclose(sample_lls(output), np.array([r["lls"] for r in records]), rtol=1e-6, atol=1e-4)
    return output


def token_splits(root: Path, tokenizer: Path, texts: list[str], validation: int) -> dict[str, Path]:
    """Documents (the DOCUMENTS artifact) and train / validation token splits of them encoded with
    the models' own tokenizer (the last `validation` texts held out), as the tokenizer stage writes
    them: what evaluate reads for held-out text and the unigram baseline."""
    import numpy as np

    from crisol.formats.tokens import SplitManifest, token_dtype, write_shard
    from kit.documents import document, write_documents

    template = ChatTemplate.from_file(tokenizer)
    vocab = template.text_tokenizer.get_vocab_size()
    ids = [f"doc-{i:02d}" for i in range(len(texts))]
    documents = write_documents(root / "documents", [document(i, t) for i, t in zip(ids, texts)])
    out = {"documents": documents}
    cut = len(texts) - validation
    for split, chosen in (("train", range(cut)), ("validation", range(cut, len(texts)))):
        encoded = [template.encode_text(texts[i]) for i in chosen]
        flat = np.array([t for doc in encoded for t in (*doc, template.eos_id)], dtype=token_dtype(vocab))
        lengths = np.array([len(doc) for doc in encoded])
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        directory = root / "tokens" / split
        directory.mkdir(parents=True)
        write_shard(directory, 0, flat, [ids[i] for i in chosen], starts, lengths)
        SplitManifest(
            token_dtype(vocab).name,
            vocab,
            template.eos_id,
            "sha",
            ({"index": 0, "tokens": int(flat.size), "documents": len(encoded)},),
            {},
        ).write(directory)
        out[split] = directory
    return out
