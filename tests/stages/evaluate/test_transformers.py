"""The issue's check: for one checkpoint, our HellaSwag-format scores equal scores computed
independently through transformers on the exported model.

The independent side shares nothing with stages/evaluate but the rules it must follow: it reads
the shared JSONL itself, tokenizes with transformers' tokenizer loaded from the export, splits
context and continuation by lm-eval's rule, truncates from the left by lm-eval's rule, runs one
LlamaForCausalLM forward per choice, and takes acc / acc_norm / acc_bytes with numpy over the
choices' characters and UTF-8 bytes. With a 1,024-token context nothing is truncated; with 256,
the longer requests are cut, so the truncation is checked against transformers too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crisol.chat.template import ChatTemplate
from crisol.model import export_hf
from kit.evaluate import HELLASWAG, hellaswag_rows, tiny_model, tokenizer_dir
from stages.evaluate.hellaswag import read_hellaswag, score_multiple_choice

transformers = pytest.importorskip("transformers", reason="transformers is needed for the independent scores")

ITEMS = 20


def independent_scores(hf_dir, rows, max_len):
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, local_files_only=True).eval()

    def encode(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    lls, outcomes = [], []
    for row in rows:
        context, choices = row["ctx"], row["endings"]
        item_lls = []
        for choice in choices:
            whole = encode(context + " " + choice)
            context_ids = encode(context)
            continuation = whole[len(context_ids) :]
            ids = (context_ids + continuation)[-(max_len + 1) :][:-1]
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            first = len(ids) - len(continuation)
            item_lls.append(sum(float(logprobs[first + j, t]) for j, t in enumerate(continuation)))
        lls.append(item_lls)
        values = np.array(item_lls)
        gold = int(row["label"])
        outcomes.append(
            (
                float(np.argmax(values) == gold),
                float(np.argmax(values / np.array([len(c) for c in choices], dtype=float)) == gold),
                float(np.argmax(values / np.array([len(c.encode()) for c in choices], dtype=float)) == gold),
            )
        )
    return lls, outcomes


@pytest.mark.parametrize("max_len", [1024, 256], ids=["fits", "truncated"])
def test_our_hellaswag_scores_equal_transformers(tmp_path, shared_data, max_len):
    rows = hellaswag_rows(shared_data, ITEMS)
    tok_dir = tokenizer_dir(tmp_path / "tokenizer")
    template = ChatTemplate.from_file(tok_dir)
    model = tiny_model(template.text_tokenizer.get_vocab_size(), max_len, seed=7)
    export_hf(model, tmp_path / "hf", tokenizer_dir=tok_dir)

    items = read_hellaswag(shared_data.joinpath(*HELLASWAG)).items[:ITEMS]
    records, aggregate = score_multiple_choice(
        model, template.encode_text, items, batch_size=16, pad_id=template.pad_id
    )
    their_lls, their_outcomes = independent_scores(tmp_path / "hf", rows, max_len)

    assert len(records) == ITEMS
    ours = np.array([r["lls"] for r in records])
    theirs = np.array(their_lls)
    assert np.abs(ours - theirs).max() <= 1e-4
    assert [(r["acc"], r["acc_norm"], r["acc_bytes"]) for r in records] == their_outcomes
    for name, column in (("acc", 0), ("acc_norm", 1), ("acc_bytes", 2)):
        assert aggregate[name] == sum(o[column] for o in their_outcomes) / ITEMS
    assert aggregate["n"] == ITEMS and aggregate["random_baseline"] == 0.25
    # The requests really were cut when the context is short, and never when it is long.
    assert (aggregate["truncated_requests"] > 0) == (max_len == 256)
    # Distinct choices must not score alike, or an argmax could agree by accident.
    assert all(len(set(np.round(r, 3))) == 4 for r in ours)
