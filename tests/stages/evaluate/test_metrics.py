"""lm-eval's formulas on hand-computed numbers, and the results JSON / per-sample JSONL shapes."""

from __future__ import annotations

import json
import math

import pytest

from kit.evaluate import LM_EVAL_RESULTS_KEYS
from stages.evaluate.metrics import (
    Choice,
    count_words,
    mc_aggregate,
    multiple_choice,
    perplexity,
    random_baseline,
    text_perplexity,
)
from stages.evaluate.results import (
    multiple_choice_result,
    perplexity_result,
    results_document,
    write_results,
    write_samples,
)


def test_perplexities_are_corpus_level():
    # Two documents: LL -10 over 5 tokens, -20 over 10 tokens; 4 + 6 words; 20 + 40 bytes.
    p = perplexity([-10.0, -20.0], [5, 10], [4, 6], [20, 40])
    assert (p.documents, p.loglikelihood, p.tokens, p.words, p.bytes) == (2, -30.0, 15, 10, 60)
    assert p.token_perplexity == pytest.approx(math.exp(2.0))  # 30 / 15
    assert p.word_perplexity == pytest.approx(math.exp(3.0))  # 30 / 10
    assert p.byte_perplexity == pytest.approx(math.exp(0.5))  # 30 / 60
    assert p.bits_per_byte == pytest.approx(0.5 / math.log(2))
    # Not the mean of per-document perplexities: the long document weighs more.
    unequal = perplexity([-10.0, -10.0], [5, 10], [1, 1], [1, 1])
    assert unequal.token_perplexity == pytest.approx(math.exp(20 / 15))
    empty = perplexity([], [], [], [])
    assert empty.documents == 0 and math.isnan(empty.word_perplexity)
    assert perplexity([-1e6], [1], [1], [1]).token_perplexity == math.inf


def test_words_and_bytes_are_counted_as_lm_eval_counts_them():
    assert count_words("a b  c\n\td") == 4
    assert count_words(" leading space") == 3  # re.split gives an empty first "word", as in lm-eval
    assert count_words("") == 1
    p = text_perplexity(["one two", "café"], [-3.0, -2.0], [2, 2])
    assert (p.words, p.bytes) == (3, 7 + 5)


def test_acc_and_acc_norm_differ_when_a_short_choice_wins_by_total_only():
    # "no" has the higher total log-likelihood (-4 > -10) but -2 per character, against -0.5
    # for the 20-character choice. (The reverse cannot happen with log-likelihoods <= 0: a longer
    # choice that wins by total also wins per character.)
    choices = ["no", "a much longer choice"]
    outcome = multiple_choice([-4.0, -10.0], choices, gold=1)
    assert (outcome.pred, outcome.pred_norm) == (0, 1)
    assert (outcome.acc, outcome.acc_norm) == (0.0, 1.0)


def test_lengths_are_the_choices_without_the_delimiter_and_bytes_are_utf8():
    # "ééé": 3 characters, 6 bytes; "abcd": 4 and 4. Per character -1.1 vs -1.0 (abcd wins);
    # per byte -0.55 vs -1.0 (ééé wins).
    # lm-eval divides by len(choice), not len(" " + choice); where the space would flip it:
    # "ab" (-2.1) vs "abcd" (-4): per character -1.05 vs -1.0, with the space -0.7 vs -0.8.
    outcome = multiple_choice([-3.3, -4.0], ["ééé", "abcd"], gold=0)
    assert (outcome.pred, outcome.pred_norm, outcome.pred_bytes) == (0, 1, 0)
    assert (outcome.acc, outcome.acc_norm, outcome.acc_bytes) == (1.0, 0.0, 1.0)
    assert multiple_choice([-2.1, -4.0], ["ab", "abcd"], gold=0).pred_norm == 1


def test_ties_go_to_the_first_choice_and_bad_input_is_refused():
    assert multiple_choice([-1.0, -1.0, -2.0], ["a", "b", "c"], gold=1).pred == 0
    with pytest.raises(ValueError, match="gold 3"):
        multiple_choice([-1.0, -2.0], ["a", "b"], gold=3)
    with pytest.raises(ValueError, match="2 log-likelihoods for 3 choices"):
        multiple_choice([-1.0, -2.0], ["a", "b", "c"], gold=0)
    with pytest.raises(ValueError, match="empty choice"):
        multiple_choice([-1.0, -2.0], ["a", ""], gold=0)


def test_aggregate_means_stderrs_and_random_baseline():
    outcomes = [Choice(0, 0, 0, a, n, b) for a, n, b in [(1, 0, 1), (0, 0, 1), (1, 1, 1), (1, 0, 1)]]
    figures = mc_aggregate(outcomes, [4, 4, 2, 4])
    assert figures["acc"] == 0.75
    # sample variance (3 x 0.0625 + 0.5625) / 3 = 0.25; stderr sqrt(0.25 / 4) = 0.25.
    assert figures["acc_stderr"] == pytest.approx(0.25)
    assert figures["acc_norm"] == 0.25 and figures["acc_bytes"] == 1.0 and figures["acc_bytes_stderr"] == 0.0
    assert figures["n"] == 4
    assert figures["random_baseline"] == pytest.approx((0.25 * 3 + 0.5) / 4)
    assert random_baseline([4, 4, 2]) == pytest.approx(1 / 3)
    assert math.isnan(mc_aggregate(outcomes[:1], [4])["acc_stderr"])


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_results_document_has_lm_evals_shape(tmp_path):
    outcomes = [Choice(0, 0, 0, 1.0, 0.0, 1.0), Choice(1, 1, 1, 0.0, 1.0, 0.0)]
    aggregate = {**mc_aggregate(outcomes, [4, 4]), "truncated_requests": 0}
    hellaswag = multiple_choice_result("hellaswag", aggregate, n_original=500)
    ppl = perplexity_result("wikitext", perplexity([-1e6, -5.0], [1, 5], [1, 1], [3, 4]))
    document = results_document(
        [hellaswag, ppl],
        {"model": "crisol", "model_args": "model=data/pretrain/model"},
        git_hash="abc1234",
        date=1790000000.0,
    )
    assert set(document) == {*LM_EVAL_RESULTS_KEYS, "group_subtasks"}
    block = document["results"]["hellaswag"]
    assert (block["name"], block["alias"], block["sample_len"]) == ("hellaswag", "hellaswag", 2)
    assert block["acc,none"] == 0.5 and block["acc_stderr,none"] == pytest.approx(0.5)
    assert block["acc_norm,none"] == 0.5 and block["acc_bytes,none"] == 0.5
    assert block["random_baseline,none"] == 0.25 and block["truncated_requests,none"] == 0
    assert document["n-samples"]["hellaswag"] == {"original": 500, "effective": 2}
    assert document["higher_is_better"]["hellaswag"] == {"acc": True, "acc_norm": True, "acc_bytes": True}
    assert document["higher_is_better"]["wikitext"]["word_perplexity"] is False
    assert document["n-shot"] == {"hellaswag": 0, "wikitext": 0} and document["versions"]["hellaswag"] == 1.0
    assert document["configs"]["hellaswag"]["output_type"] == "multiple_choice"
    wikitext = document["results"]["wikitext"]
    assert wikitext["word_perplexity_stderr,none"] == "N/A"  # lm-eval: no stderr for corpus figures
    assert wikitext["word_perplexity,none"] == "inf"  # exp(1e6 / 2): JSON has no infinity
    write_results(tmp_path / "results.json", document)
    written = _strict((tmp_path / "results.json").read_text())
    assert written["results"]["wikitext"]["word_perplexity,none"] == "inf"
    assert written["results"]["hellaswag"]["acc,none"] == 0.5 and written["date"] == 1790000000.0
    with pytest.raises(ValueError, match="repeat"):
        results_document([hellaswag, hellaswag], {})


def test_samples_are_jsonl_in_order(tmp_path):
    records = [{"doc_id": i, "lls": [-1.5, float("nan")], "context": "é"} for i in range(3)]
    assert write_samples(tmp_path / "samples.jsonl", records) == 3
    lines = (tmp_path / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [_strict(line) for line in lines]
    assert [r["doc_id"] for r in rows] == [0, 1, 2] and rows[0]["lls"] == [-1.5, "N/A"] and rows[0]["context"] == "é"


def test_report_numbers_keep_the_digits_that_mean_something():
    from stages.evaluate.report import with_error

    assert with_error(6639.0, None) == "6,639" and with_error(7.23e13, None) == "7.23e+13"
    assert with_error(0.2781, 0.0204) == "0.278 ± 0.020" and with_error(12, None) == "12"
    assert with_error(float("nan"), None) == "n/a" and with_error(0.0004, None) == "0.0004"
