"""lm-evaluation-harness itself agrees with us (lm_eval is a dev dependency; skipped where it is missing).

On the shared HellaSwag sample, as a custom multiple-choice task (doc_to_text ctx, choices
endings, target label, lm-eval's own " " delimiter and acc / acc_norm): lm-eval driving lm-eval's
HF model (HFLM) on the exported checkpoint, and lm-eval driving our model through CrisolLM, give
our score_multiple_choice's acc and acc_norm, and the same per-choice log-likelihoods. Rolling
log-likelihoods of documents longer than the context agree with HFLM's, our windows are
lm_eval.utils'; greedy generation agrees with HFLM's; our results JSON prints with lm-eval's
make_table.
"""

from __future__ import annotations

import pytest

from kit.evaluate import (
    LM_EVAL_MISSING,
    LM_EVAL_TASK,
    assert_lm_eval_scores_as_we_do,
    exported_tiny_model,
    our_hellaswag_scores,
)

pytest.importorskip("lm_eval", reason=LM_EVAL_MISSING)
pytest.importorskip("transformers", reason="transformers is needed for lm-eval's HF model")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window, make_table  # noqa: E402

from stages.evaluate.lm_eval_adapter import CrisolLM  # noqa: E402
from stages.evaluate.loglikelihood import rolling_requests  # noqa: E402
from stages.evaluate.results import multiple_choice_result, results_document  # noqa: E402

ITEMS = 12


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm-eval")
    _, template, model = exported_tiny_model(root, 512, seed=11)  # exported to root / "hf"
    return root, template, model


def hflm(directory, **kwargs):
    """lm-eval's own HF model on an export (its lm_eval[hf] extra brings accelerate)."""
    huggingface = pytest.importorskip("lm_eval.models.huggingface", reason="lm-eval's HF model needs lm_eval[hf]")
    return huggingface.HFLM(pretrained=str(directory), device="cpu", dtype="float32", **kwargs)


def test_lm_eval_multiple_choice_equals_ours(setup, shared_data):
    root, template, model = setup
    rows, records, ours = our_hellaswag_scores(shared_data, model, template, ITEMS)

    crisol = CrisolLM(model, template, batch_size=8)
    for lm in (crisol, hflm(root / "hf", batch_size=8)):
        output = assert_lm_eval_scores_as_we_do(lm, rows, records, ours)
    # The acc and acc_norm differ on some item, so the test tells the two normalisations apart.
    assert any(r["pred"] != r["pred_norm"] for r in records)
    # Our results document has lm-eval's keys and prints with its table.
    ours_document = results_document([multiple_choice_result(LM_EVAL_TASK, ours)], {"model": "crisol"})
    assert set(ours_document) <= set(output)
    assert set(output["results"][LM_EVAL_TASK]) <= set(ours_document["results"][LM_EVAL_TASK])
    assert "acc_norm" in make_table(ours_document)


def test_rolling_windows_are_lm_eval_utils(setup):
    for max_len in (1, 4, 16):
        for length in range(0, 40):
            tokens = list(range(50, 50 + length))
            theirs = [make_disjoint_window(w) for w in get_rolling_token_windows(tokens, 7, max_len, 1)]
            ours = [(list(r.context), list(r.continuation)) for r in rolling_requests(tokens, 7, max_len)]
            assert ours == [(list(a), list(b)) for a, b in theirs]


def test_rolling_loglikelihood_and_generation_equal_hflm(tmp_path, setup):
    _, template, _ = setup
    hf_dir, _, model = exported_tiny_model(tmp_path, 32, seed=5)
    hf = hflm(hf_dir, batch_size=4, prefix_token_id=template.eos_id)
    crisol = CrisolLM(model, template, batch_size=4)
    texts = [
        "The river Velmar flows through the old city of Ostrand, past the market and the cathedral. " * 5,
        "Population figures for the province rose by 12% between the two censuses.",
        "Maps",
    ]
    assert len(template.encode_text(texts[0])) > 3 * 32  # several windows
    rolling = [Instance("loglikelihood_rolling", {}, (t,), 0) for t in texts]
    assert crisol.loglikelihood_rolling(rolling) == pytest.approx(hf.loglikelihood_rolling(rolling), abs=1e-4)

    pairs = [
        Instance("loglikelihood", {}, (c, x), 0)
        for c, x in [("The river", " Velmar flows"), ("", "Maps are arguments"), ("She wrote: ", '"Maps')]
    ]
    ours, theirs = crisol.loglikelihood(pairs), hf.loglikelihood(pairs)
    assert [o[0] for o in ours] == pytest.approx([t[0] for t in theirs], abs=1e-4)
    assert [o[1] for o in ours] == [t[1] for t in theirs]

    prompts = ["The river Velmar", "In 1902 the company", "Visitors often ask"]
    requests = [
        Instance("generate_until", {}, (p, {"until": ["\n\n"], "max_gen_toks": 8, "do_sample": False}), 0)
        for p in prompts
    ]
    assert crisol.generate_until(requests) == hf.generate_until(requests)
