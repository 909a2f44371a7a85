"""SFT data generated from the synthetic world: the split by entity (no held-out entity is named in
any training or validation example), gold answers that agree with the ground truth, invented
names that are not real, and determinism."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import read_examples, write_examples
from crisol.grading.answers import READING_PROMPT
from crisol.grading.oracle import IDK_ANSWER
from crisol.grading.text import ANSWER_LEAD, exact_match
from kit.chat import small_tokenizer
from kit.web import generate as generate_web
from stages.sft.dataset import build_sft_data
from stages.sft.examples import within_length
from stages.sft.generated import generate, generate_from_files
from stages.sft.ground import read_ground
from stages.sft.params import GenerationParams, SftDataParams, UserDataParams
from stages.sft.questions import LIST_SEPARATOR
from stages.sft.split import RL, TEST, TRAIN, VALIDATION, MentionRouter, entity_split

# Fractions large enough that the micro world has entities in every split.
PARAMS = GenerationParams(
    heldout_fraction=0.15,
    validation_fraction=0.1,
    rl_fraction=0.15,
    idk_examples=60,
    idk_validation_examples=10,
    idk_eval_examples=20,
    idk_rl_examples=30,
    reading_examples=80,
    list_examples=40,
    count_examples=40,
    compare_examples=60,
)


@pytest.fixture(scope="module")
def web_out(tmp_path_factory) -> Path:
    return generate_web(tmp_path_factory.mktemp("sft-web"))


@pytest.fixture(scope="module")
def facts(web_out) -> list[dict]:
    return pq.read_table(web_out / "facts.parquet").to_pylist()


@pytest.fixture(scope="module")
def generated(web_out):
    return generate_from_files(web_out / "facts.parquet", web_out / "pages.parquet", PARAMS)


@pytest.fixture(scope="module")
def entity_splits(facts) -> dict[str, tuple[str, str]]:
    """name -> (entity id, split), computed here from the rule, not read from the generator."""
    out = {}
    for row in facts:
        split = entity_split(
            row["subject_id"],
            PARAMS.split_salt,
            PARAMS.heldout_fraction,
            PARAMS.validation_fraction,
            PARAMS.rl_fraction,
        )
        if row["subject_id"].startswith("country-"):  # countries are not among heldout_kinds
            split = TRAIN
        out[row["subject"]] = (row["subject_id"], split)
    return out


def names_in(text: str, names) -> set[str]:
    return {n for n in names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)}


def test_every_kind_is_generated_in_train(generated):
    counts = generated.summary()["examples"]
    for kind in ("fact", "idk", "reading", "list", "count", "compare", "two_hop"):
        assert counts[kind].get(TRAIN, 0) > 0, kind
    assert counts["fact"][TEST] > 0 and counts["two_hop"][TEST] > 0 and counts["idk"][TEST] == PARAMS.idk_eval_examples
    assert counts["idk"][TRAIN] == PARAMS.idk_examples and counts["idk"][VALIDATION] == PARAMS.idk_validation_examples
    assert generated.entities[TEST] > 0 and generated.entities[VALIDATION] > 0


def test_no_training_or_validation_example_names_a_heldout_entity(generated, entity_splits):
    heldout = {n for n, (_, s) in entity_splits.items() if s == TEST}
    assert heldout
    for example in generated.examples:
        if example.split != TEST:
            assert not names_in(" ".join(example.texts()), heldout), example
    assert sum(generated.dropped.values()) > 0  # the rule did bite on this world


def test_examples_naming_a_validation_entity_are_in_validation(generated, entity_splits):
    validation = {n for n, (_, s) in entity_splits.items() if s == VALIDATION}
    for example in generated.split(TRAIN):
        assert not names_in(" ".join(example.texts()), validation), example
    assert any(e.kind == "fact" for e in generated.split(VALIDATION))


def test_rlhf_prompts_are_about_entities_and_names_sft_never_trains_on(generated, entity_splits):
    rl = {n for n, (_, s) in entity_splits.items() if s == RL}
    assert rl
    for example in generated.split(TRAIN):
        assert not names_in(" ".join(example.texts()), rl), example
    counts = generated.summary()["examples"]
    assert counts["fact"][RL] > 0 and counts["idk"][RL] == PARAMS.idk_rl_examples
    rl_names = {
        n
        for e in generated.split(RL)
        if e.kind == "idk"
        for n in names_in(e.messages[0]["content"], generated.invented)
    }
    trained_names = {
        n
        for e in generated.split(TRAIN)
        if e.kind == "idk"
        for n in names_in(e.messages[0]["content"], generated.invented)
    }
    assert rl_names and not rl_names & trained_names


def test_heldout_questions_ask_about_heldout_subjects_with_gold_answers(generated, facts, entity_splits):
    truth = {(r["subject_id"], r["relation"]): r["object"] for r in facts}
    heldout_ids = {i for i, s in entity_splits.values() if s == TEST}
    tests = [e for e in generated.split(TEST) if e.kind == "fact"]
    assert {e.subject_id for e in tests} <= heldout_ids
    for example in tests:
        assert example.answer == truth[example.subject_id, example.relation]
        assert example.messages[-1] == {"role": "assistant", "content": example.answer}
    trained = {e.subject_id for e in generated.examples if e.split != TEST and e.subject_id}
    assert not trained & heldout_ids


def test_training_facts_have_the_true_object_and_several_phrasings(generated, facts):
    truth = {(r["subject_id"], r["relation"]): r["object"] for r in facts}
    phrasings = defaultdict(set)
    for example in generated.split(TRAIN):
        if example.kind == "fact":
            assert example.answer == truth[example.subject_id, example.relation]
            phrasings[example.subject_id, example.relation].add(example.messages[0]["content"])
    assert phrasings and all(len(p) == PARAMS.questions_per_fact for p in phrasings.values())


def test_invented_names_are_not_real_and_share_no_word_with_real_names(generated, facts):
    real_words = {w.lower() for r in facts for text in (r["subject"], r["object"]) for w in text.split()}
    real_names = {r["subject"] for r in facts}
    suffixes = {r["subject"].split(" ", 1)[1] for r in facts if r["subject_id"].startswith("org-")}
    assert (
        len(set(generated.invented))
        == len(generated.invented)
        == (PARAMS.idk_examples + PARAMS.idk_validation_examples + PARAMS.idk_eval_examples + PARAMS.idk_rl_examples)
    )
    for name in generated.invented:
        assert name not in real_names
        first, _, rest = name.partition(" ")
        distinctive = [first] if rest in suffixes else name.split()
        assert not {w.lower() for w in distinctive} & real_words, name
    idk = [e for e in generated.examples if e.kind == "idk"]
    assert all(e.answer == IDK_ANSWER for e in idk)
    assert all(names_in(e.messages[0]["content"], generated.invented) for e in idk)


def test_reading_passages_hold_the_answer_and_fit(generated):
    prefix, _, _ = READING_PROMPT.partition("{passage}")
    for example in (e for e in generated.examples if e.kind == "reading"):
        prompt = example.messages[0]["content"]
        passage = prompt[len(prefix) : prompt.index("\n\nQuestion: ")]
        assert len(passage) <= PARAMS.passage_max_chars
        assert example.answer in passage


def test_small_tasks_agree_with_the_facts(generated, facts):
    value = {(r["subject"], r["relation"]): r["object"] for r in facts}
    number = lambda s: int(s.replace(",", ""))  # noqa: E731
    for example in (e for e in generated.examples if e.kind == "compare"):
        a, b = re.search(r", (.+) or (.+)\?$", example.messages[0]["content"]).groups()
        va, vb = number(value[a, example.relation]), number(value[b, example.relation])
        larger = example.relation in ("population", "employees")
        assert example.answer == ((a if va > vb else b) if larger else (a if va < vb else b))
    members = defaultdict(list)
    for r in facts:
        members[r["relation"], r["object"]].append(r["subject"])
    for example in (e for e in generated.examples if e.kind == "list"):
        names = example.answer.split(LIST_SEPARATOR)
        assert names == sorted(names) and len(names) >= 2
        groups = [sorted(v) for (rel, _), v in members.items() if rel == example.relation and sorted(v) == names]
        assert groups, example
    for example in (e for e in generated.examples if e.kind == "count"):
        question = example.messages[0]["content"]
        obj = max((o for rel, o in members if rel == example.relation and o in question), key=len)
        assert int(example.answer) == len(members[example.relation, obj])


def test_two_step_questions_chain_two_facts_and_hide_no_heldout_entity(generated, facts, entity_splits):
    by_subject = {(r["subject"], r["relation"]): r["object"] for r in facts}
    id_of = {r["subject_id"]: r["subject"] for r in facts}
    heldout = {n for n, (_, s) in entity_splits.items() if s == TEST}
    two_hop = [e for e in generated.examples if e.kind == "two_hop"]
    assert two_hop and len([e for e in two_hop if e.split != TEST]) <= PARAMS.two_hop_examples
    for example in two_hop:
        first, second = example.relation.split(".")
        middle = by_subject[id_of[example.subject_id], first]
        assert example.answer == by_subject[middle, second], example
        assert id_of[example.subject_id] in example.messages[0]["content"]
        # The reply names the middle entity, then answers: graded on the answer alone.
        reply = example.messages[-1]["content"]
        assert reply.startswith(("Born in " + middle + ",", "Works for " + middle + ",")), example
        assert reply.endswith(f"{ANSWER_LEAD} {example.answer}.") and exact_match(reply, example.answer)
        assert (example.split == TEST) == (id_of[example.subject_id] in heldout), example
        # The question never names the middle entity, and a held-out one keeps the example out of training.
        if example.split != TEST:
            assert middle not in heldout, example


def test_generation_is_deterministic_for_a_seed(web_out, generated):
    again = generate_from_files(web_out / "facts.parquet", web_out / "pages.parquet", PARAMS)
    assert again.examples == generated.examples
    other = generate_from_files(
        web_out / "facts.parquet", web_out / "pages.parquet", PARAMS.model_copy(update={"seed": 1})
    )
    assert other.examples != generated.examples
    # The split belongs to the entities, not to the seed.
    assert {e.subject_id for e in other.split(TEST)} == {e.subject_id for e in generated.split(TEST)}


def test_entity_split_depends_on_the_id_alone():
    ids = [f"person-{i:05d}" for i in range(4000)]
    splits = [entity_split(i, "salt", 0.1, 0.05, 0.15) for i in ids]
    assert splits == [entity_split(i, "salt", 0.1, 0.05, 0.15) for i in ids]
    assert 0.08 < splits.count(TEST) / len(ids) < 0.12
    assert 0.035 < splits.count(VALIDATION) / len(ids) < 0.065
    assert 0.12 < splits.count(RL) / len(ids) < 0.18
    # Adding the rl band takes entities from train only: held-out and validation stay as they were.
    without = [entity_split(i, "salt", 0.1, 0.05) for i in ids]
    assert all(a == b or (a == RL and b == TRAIN) for a, b in zip(splits, without))


def test_mentions_are_whole_names():
    router = MentionRouter({"Osk": TEST, "Kelmar Mills": VALIDATION, "Aldo": RL})
    assert router.route(["Oskar lives in Kelmarsh."]) == TRAIN
    assert router.route(["Who founded Kelmar Mills?"]) == VALIDATION
    assert router.route(["Osk's river", "Kelmar Mills"]) == TEST
    assert router.route(["Aldo met Oskar."]) == RL
    assert router.route(["Aldo works for Kelmar Mills."]) == VALIDATION


def test_only_stated_facts_are_asked(web_out):
    ground = read_ground(web_out / "facts.parquet", web_out / "pages.parquet", only_stated=True)
    generated = generate(ground, PARAMS)
    asked = {f"{e.subject_id}/{e.relation}" for e in generated.examples if e.kind == "fact"}
    assert asked and asked <= ground.stated


def test_examples_round_trip_through_parquet(tmp_path, generated):
    path = tmp_path / "examples.parquet"
    assert write_examples(path, generated.examples[:50], {"seed": 0}) == 50
    assert read_examples(path) == generated.examples[:50]


def test_fractions_that_leave_nothing_to_train_on_are_refused():
    with pytest.raises(ValidationError, match="must be below 1"):
        GenerationParams(heldout_fraction=0.6, validation_fraction=0.4)
    with pytest.raises(ValidationError, match="must be below 1"):
        GenerationParams(heldout_fraction=0.4, validation_fraction=0.2, rl_fraction=0.4)


def test_within_length_drops_what_the_template_makes_too_long(generated):
    template = ChatTemplate(small_tokenizer())
    examples = [e for e in generated.examples if e.kind in ("fact", "reading")]
    sizes = [len(template.render(e.messages)) for e in examples]
    limit = sorted(sizes)[len(sizes) // 2]
    kept, over = within_length(examples, template, limit)
    assert over == sum(s > limit for s in sizes) > 0
    assert kept == [e for e, s in zip(examples, sizes) if s <= limit]


def test_build_sft_data_joins_generated_and_user_examples(tmp_path, web_out):
    user_file = tmp_path / "alpaca.jsonl"
    user_file.write_text(
        "\n".join(json.dumps({"instruction": f"Say {i}.", "output": f"{i}."}) for i in range(5)) + "\n{broken\n"
    )
    tokenizer_file = tmp_path / "tokenizer.json"
    small_tokenizer().save(str(tokenizer_file))
    params = SftDataParams(
        facts=web_out / "facts.parquet",
        pages=web_out / "pages.parquet",
        tokenizer=tmp_path,
        generated=PARAMS,
        user=UserDataParams(inputs=[user_file], validation_fraction=0.0),
    )
    data = build_sft_data(params, ChatTemplate.from_file(params.tokenizer))
    assert len([e for e in data.examples if e.kind == "user"]) == 5
    assert data.summary["user"]["skipped"] == {"bad_json": 1}
    assert sum(data.summary["splits"].values()) == len(data.examples)
    assert data.split(TEST) and all(e.kind in ("fact", "idk", "two_hop") for e in data.split(TEST))
