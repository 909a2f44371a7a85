"""lm-evaluation-harness scores a served model: its `local-completions` model (an OpenAI client of
/v1/completions, echo + logprobs) over `crisol serve` gives, on the shared HellaSwag sample, the
evaluate stage's acc and acc_norm and its per-choice log-likelihoods. The tokenizer comes from the
server (vLLM's /tokenizer_info, /tokenize, /detokenize, which lm-eval detects by itself) or from the
export's files (lm-eval's huggingface backend); both tokenize as we do. lm-eval's prefix token
(the eos it finds by tokenizing tokenizer_info's eos string) is ours, so an empty context and a
document's first token are scored as our adapter scores them.
"""

from __future__ import annotations

import pytest

from kit.evaluate import LM_EVAL_MISSING, assert_lm_eval_scores_as_we_do, exported_tiny_model, our_hellaswag_scores

pytest.importorskip("lm_eval", reason=LM_EVAL_MISSING)
pytest.importorskip("tenacity", reason="lm-eval's API models need lm_eval[api]")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.models.openai_completions import LocalCompletionsAPI  # noqa: E402

from kit.serve import running_server  # noqa: E402
from stages.evaluate.lm_eval_adapter import CrisolLM  # noqa: E402

ITEMS = 12
CONTEXT = 512


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A base model exported with its tokenizer, served as "base"; yields (url, hf dir, template, model)."""
    hf_dir, template, model = exported_tiny_model(tmp_path_factory.mktemp("serve-lm-eval"), CONTEXT, seed=11)
    with running_server({"base": hf_dir}) as url:
        yield url, hf_dir, template, model


def local_completions(url: str, **tokenizer) -> LocalCompletionsAPI:
    # max_length = the model's context: lm-eval keeps prompts one token shorter, room for the one
    # token it asks to generate (max_tokens 1), which the server requires.
    return LocalCompletionsAPI(
        base_url=url + "/v1/completions", model="base", num_concurrent=1, max_length=CONTEXT, **tokenizer
    )


def test_local_completions_scores_hellaswag_as_the_evaluate_stage(served, shared_data):
    url, hf_dir, template, model = served
    rows, records, ours = our_hellaswag_scores(shared_data, model, template, ITEMS)
    # acc and acc_norm differ on some item, so the test tells the two normalisations apart.
    assert any(r["pred"] != r["pred_norm"] for r in records)

    remote = local_completions(url)
    assert remote.tokenizer_backend == "remote"  # detected from the server's routes
    huggingface = local_completions(url, tokenizer_backend="huggingface", tokenizer=str(hf_dir))
    for lm in (remote, huggingface):
        assert_lm_eval_scores_as_we_do(lm, rows, records, ours)


def test_remote_tokenizer_prefix_token_is_ours(served):
    url, _, template, model = served
    remote = local_completions(url)
    assert remote.prefix_token_id == template.eos_id
    crisol = CrisolLM(model, template, batch_size=4)
    # Empty contexts and rolling windows start from the prefix token; these documents fit one window.
    pairs = [
        Instance("loglikelihood", {}, (c, x), 0)
        for c, x in [("The river", " Velmar flows"), ("", "Maps are arguments"), ("She wrote: ", '"Maps')]
    ]
    theirs, ours = remote.loglikelihood(pairs), crisol.loglikelihood(pairs)
    assert [lp for lp, _ in theirs] == pytest.approx([lp for lp, _ in ours], abs=1e-4)
    assert [greedy for _, greedy in theirs] == [greedy for _, greedy in ours]  # from top_logprobs
    texts = ["Population figures for the province rose by 12% between the two censuses.", "Maps"]
    rolling = [Instance("loglikelihood_rolling", {}, (t,), 0) for t in texts]
    assert remote.loglikelihood_rolling(rolling) == pytest.approx(crisol.loglikelihood_rolling(rolling), abs=1e-4)
