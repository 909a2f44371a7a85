"""Scoring fact completions: the word-boundary rule, accuracy against known completers (all right,
the chance floor), batching, and the adapter from a tokenizer and a token-level generate."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from crisol.facts.complete import SLACK_TOKENS, token_completer
from crisol.facts.probes import FactProbe, chance_rate, mode_answers, probes_from_rows
from crisol.facts.score import EXAMPLES, is_correct, score_completions
from kit.web import MICRO
from stages.web.generate import generate
from stages.web.groundtruth import fact_rows, page_rows
from stages.web.params import WebParams


@pytest.fixture(scope="module")
def probes() -> list[FactProbe]:
    web = generate(WebParams(**MICRO))
    return probes_from_rows(fact_rows(web.world), page_rows(web.pages, [p.main_text for p in web.pages])).probes


def answering(table: dict[str, str], suffix: str = ". More text follows."):
    def complete(prompts: list[str]) -> list[str]:
        return [" " + table[p] + suffix for p in prompts]

    return complete


@pytest.mark.parametrize(
    "completion, answer, right",
    [
        (" Kelmar.", "Kelmar", True),
        ("Kelmar", "Kelmar", True),
        ("\n  Kelmar, a city", "Kelmar", True),
        (" Kelmar's river", "Kelmar", True),
        (" Kelmarsh.", "Kelmar", False),
        (" kelmar.", "Kelmar", False),
        (" the Kelmar", "Kelmar", False),
        ("", "Kelmar", False),
        (" Osk River flows", "Osk River", True),
        (" Osk Riverside", "Osk River", False),
        (" 1,300.", "1,300", True),
        (" 1,300 people", "1,300", True),
        (" 1,300,000", "1,300", False),
        (" 1,3000", "1,300", False),
        (" 1300", "1,300", False),
        (" 1923. She", "1923", True),
        (" 1923.5", "1923", False),
        (" 19234", "1923", False),
    ],
)
def test_a_completion_is_right_when_it_starts_with_the_whole_answer(completion, answer, right):
    assert is_correct(completion, answer) is right


def test_a_completer_that_knows_every_fact_scores_100_percent(probes):
    score = score_completions(probes, answering({p.prompt: p.answer for p in probes}))
    assert score.accuracy == 1.0 and score.correct == score.total == len(probes)
    assert {r: s.accuracy for r, s in score.by_relation.items()} == {r: 1.0 for r in {p.relation for p in probes}}
    assert not score.wrong and len(score.right) == EXAMPLES
    assert len({e.relation for e in score.right}) == EXAMPLES  # one relation after another


def test_a_completer_that_answers_each_relations_mode_scores_the_chance_rate(probes):
    modes = mode_answers(probes)
    score = score_completions(probes, answering({p.prompt: modes[p.relation] for p in probes}))
    assert score.accuracy == pytest.approx(chance_rate(probes)) == pytest.approx(score.chance)
    assert 0 < score.accuracy < 0.10
    assert score.wrong and all(not is_correct(e.completion, e.answer) for e in score.wrong)
    report = score.to_dict()
    assert json.loads(json.dumps(report))["total"] == len(probes)
    assert sum(r["correct"] for r in report["by_relation"].values()) == score.correct


def test_prompts_go_out_in_batches_in_order(probes):
    calls: list[list[str]] = []

    def complete(prompts: list[str]) -> list[str]:
        calls.append(prompts)
        return ["?"] * len(prompts)

    score = score_completions(probes[:10], complete, batch_size=4)
    assert [len(c) for c in calls] == [4, 4, 2]
    assert [p for c in calls for p in c] == [p.prompt for p in probes[:10]]
    assert score.accuracy == 0.0 and score.total == 10


def test_bad_inputs_are_clear_errors(probes):
    with pytest.raises(ValueError, match="no probes"):
        score_completions([], answering({}))
    with pytest.raises(ValueError, match="batch_size"):
        score_completions(probes, answering({}), batch_size=0)
    with pytest.raises(ValueError, match="returned 1 completions for 3 prompts"):
        score_completions(probes[:3], lambda prompts: ["x"])
    with pytest.raises(ValueError, match="strings"):
        score_completions(probes[:3], lambda prompts: [None] * len(prompts))


# --- the adapter from a tokenizer and generate ---------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer(probes) -> Tokenizer:
    """A small byte-level BPE, like the tokenizer stage's, fitted on the probes' sentences."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<|eos|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([f"{p.prompt} {p.answer}." for p in probes], trainer=trainer)
    return tok


def test_the_adapter_encodes_generates_greedily_and_decodes_the_new_tokens(probes, tokenizer):
    eos = tokenizer.token_to_id("<|eos|>")
    answer_of = {p.prompt: p.answer for p in probes}
    calls = []

    def generate_tokens(prompts_ids: list[list[int]], max_new_tokens: int, **kwargs) -> list[list[int]]:
        calls.append((len(prompts_ids), max_new_tokens, kwargs))
        out = []
        for ids in prompts_ids:
            assert ids[0] == eos
            prompt = tokenizer.decode(ids[1:])
            out.append(tokenizer.encode(" " + answer_of[prompt] + ". And more.").ids[:max_new_tokens])
        return out

    complete = token_completer(tokenizer, generate_tokens, probes, prefix_ids=[eos])
    longest = max(len(tokenizer.encode(" " + p.answer).ids) for p in probes)
    assert complete.max_new_tokens == longest + SLACK_TOKENS
    score = score_completions(probes, complete, batch_size=100)
    assert score.accuracy == 1.0
    assert calls[0] == (100, longest + SLACK_TOKENS, {"temperature": 0.0})
    assert len(calls) == -(-len(probes) // 100)


def test_the_adapter_reports_a_generate_that_drops_prompts(probes, tokenizer):
    complete = token_completer(tokenizer, lambda ids, n, **kw: ids[:-1], probes[:5], generate_kwargs={"top_k": 1})
    with pytest.raises(ValueError, match="generate returned 4 sequences for 5 prompts"):
        complete([p.prompt for p in probes[:5]])
    with pytest.raises(ValueError, match="no probes"):
        token_completer(tokenizer, lambda ids, n, **kw: ids, [])
