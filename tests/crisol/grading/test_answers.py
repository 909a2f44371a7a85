"""Grading replies: SQuAD normalisation, exact match and contains, standard errors, the chance
floor, and few-shot prompts that shed shots until they fit the model's context."""

from __future__ import annotations

import math

import pytest
import torch

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import qa
from crisol.grading.answers import chance_exact_match, chat_replies, few_shot_prompt, few_shot_replies, grade, summarize
from crisol.grading.text import contains, exact_match, f1, final_answer, mean_and_stderr, normalize
from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer
from kit.chat import small_tokenizer


@pytest.mark.parametrize(
    "reply, gold, exact, within",
    [
        ("Osk Mills", "Osk Mills", True, True),
        ("  osk mills. ", "Osk Mills", True, True),
        ("The Vaze Weaving Mills", "Vaze Weaving Mills", True, True),
        ("I don't know.", "I don't know.", True, True),
        ("I dont know", "I don't know.", True, True),
        ("11,636,700", "11636700", True, True),
        ("It was founded in 1929.", "1929", False, True),
        ("19290", "1929", False, False),  # whole words only
        ("Osk", "Osk Mills", False, False),
        ("", "Osk Mills", False, False),
        # A reasoned reply is graded on what follows its last "the answer is", the reasoning not at all.
        ("Born in Kenmeboth, so the answer is Osk Mills.", "Osk Mills", True, True),
        ("The answer is 1929", "1929", True, True),
        ("Born in Osk Mills, so the answer is Ravel.", "Osk Mills", False, False),
        ("I think the answer is Osk, no: the answer is Osk Mills", "Osk Mills", True, True),
    ],
)
def test_exact_match_and_contains(reply, gold, exact, within):
    assert exact_match(reply, gold) is exact
    assert contains(reply, gold) is within


@pytest.mark.parametrize(
    "reply, gold, score",
    [
        ("Kenmeboth", "Kenmeboth", 1.0),
        ("the city of Kenmeboth", "Kenmeboth", 2 * (1 / 3) * 1 / (1 / 3 + 1)),  # precision 1/3, recall 1
        ("Osk Mills", "Kelmar Mills", 0.5),
        ("Osk", "Kelmar Mills", 0.0),
        ("the", "a", 1.0),  # both normalise to nothing
        ("", "Kenmeboth", 0.0),
        ("mills mills", "mills", 2 * 0.5 * 1 / 1.5),  # repeated words count once each
    ],
)
def test_f1_is_squad_token_f1(reply, gold, score):
    assert f1(reply, gold) == pytest.approx(score)


def test_final_answer_is_what_follows_the_last_lead():
    assert final_answer("Works for Osk Mills, so the answer is Ravel.") == " Ravel."
    assert final_answer("Ravel") == "Ravel"  # no lead: the whole reply
    assert final_answer("THE ANSWER IS Ravel") == " Ravel"
    assert final_answer("theanswer is Ravel") == "theanswer is Ravel"  # whole words only
    assert f1("Born in Osk, so the answer is Osk Mills", "Osk Mills") == 1.0


def test_normalize_is_squad_style():
    assert normalize("  The  Cat, an Owl & a Dog!") == "cat owl dog"


def test_standard_error_is_that_of_a_mean_of_zeros_and_ones():
    mean, stderr = mean_and_stderr([1.0, 0.0, 1.0, 1.0])
    assert mean == 0.75
    assert stderr == pytest.approx(math.sqrt(0.25 / 4))  # sample std 0.5, n = 4
    assert math.isnan(mean_and_stderr([])[0])


def test_summaries_by_kind_and_relation():
    examples = [
        qa("a", "fact", "test", "Where was A born?", "Ravel", relation="born_in"),
        qa("b", "fact", "test", "When was A born?", "1931", relation="birth_year"),
        qa("c", "idk", "test", "Where was Zz born?", "I don't know.", relation="born_in"),
    ]
    summary = summarize(grade(examples, ["Ravel", "1930", "I don't know."]))
    assert summary["all"]["exact_match"] == pytest.approx(2 / 3, abs=1e-5)
    assert summary["by_kind"]["fact"]["n"] == 2 and summary["by_kind"]["idk"]["exact_match"] == 1.0
    assert summary["fact_by_relation"] == {
        "birth_year": {
            "exact_match": 0.0,
            "exact_match_stderr": None,
            "f1": 0.0,
            "f1_stderr": None,
            "contains": 0.0,
            "contains_stderr": None,
            "n": 1,
        },
        "born_in": {
            "exact_match": 1.0,
            "exact_match_stderr": None,
            "f1": 1.0,
            "f1_stderr": None,
            "contains": 1.0,
            "contains_stderr": None,
            "n": 1,
        },
    }


def test_chance_is_one_over_the_answers_a_relation_has():
    universe = [
        qa(str(i), "fact", "train", "q", answer, relation=relation)
        for i, (relation, answer) in enumerate(
            [
                ("born_in", "Ravel"),
                ("born_in", "Osk"),
                ("born_in", "Ravel"),
                ("birth_year", "1931"),
                ("birth_year", "1932"),
                ("birth_year", "1933"),
                ("birth_year", "1934"),
            ]
        )
    ]
    questions = [universe[0], universe[3]]
    assert chance_exact_match(questions, universe) == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert chance_exact_match([], universe) is None


def test_few_shot_prompt_layout():
    prompt = few_shot_prompt("Where was B born?", [("Where was A born?", "Ravel")])
    assert prompt == "Where was A born?\nRavel\nWhere was B born?\n"


def test_replies_fit_the_context_and_shots_are_shed():
    template = ChatTemplate(small_tokenizer())
    torch.manual_seed(0)
    model = Transformer(ModelConfig.from_depth(1, template.text_tokenizer.get_vocab_size(), 48, d_model=32))
    shots = [(f"Where was person number {i} born in the old days?", "Ravel") for i in range(5)]
    replies, used = few_shot_replies(model, template, ["Where was B born?"], shots, max_new_tokens=6)
    assert len(replies) == 1 and used < len(shots)
    assert all("\n" not in r for r in replies)
    # a chat prompt longer than the context is cut from the left, never an error
    long_question = qa("x", "fact", "test", "word " * 200, "Ravel")
    assert len(chat_replies(model, template, [long_question], max_new_tokens=6)) == 1
