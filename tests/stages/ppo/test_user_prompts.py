"""A user's PPO prompts (source own): `prompt` and `messages` rows, .jsonl.gz, bad rows counted by
reason, long conversations cut to their latest turns, the fallback to the held-out user rows of
SFT's examples and the reward pairs, a split decided by each prompt, and one-line errors when there
is nothing to read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.core.source import DataSource
from crisol.formats.artifacts import write_parquet
from crisol.formats.conversations import PREFERENCE_PAIRS, Example, qa, write_examples
from kit.chat import small_tokenizer
from stages.ppo.params import PPOParams
from stages.ppo.prompt_sets import prompt_sets
from stages.ppo.user_prompts import load_user_prompts, split_user_prompts

BUDGET = 40  # prompt tokens the context leaves (positions - max_new_tokens)
LONG = "many words again " * 40  # over BUDGET on its own


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _jsonl(path: Path, rows: list, opener=open) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def _params(tmp_path: Path, **user) -> PPOParams:
    return PPOParams(sft=tmp_path / "sft", reward=tmp_path / "reward", heldout_prompts=100, user=user)


def test_prompt_and_messages_rows_load_and_bad_rows_are_counted_by_reason(tmp_path, template):
    own = tmp_path / "own"
    _jsonl(
        own / "prompts" / "a.jsonl",
        [
            {"prompt": "Say hi."},
            "{not json",
            ["a", "list"],
            {"prompt": 3},
            {"prompt": "   "},
            {"prompt": "Say hi."},  # the same prompt again
            {"prompt": LONG},
            {"question": "no prompt key"},
            {"prompt": [_user("Name a fruit."), _assistant("Pear."), _user("And a tree?")]},  # TRL conversational
        ],
    )
    _jsonl(
        own / "prompts" / "sub" / "b.jsonl.gz",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    _user("Name a colour."),
                    _assistant("Red."),
                    _user("Another?"),
                    _assistant("Blue."),
                ]
            },
            {"messages": [_assistant("Hello.")]},
            {"messages": [{"role": "robot", "content": "x"}]},
            {"messages": [_user("a"), {"role": "system", "content": "b"}, _user("c")]},
            {"messages": [_user(LONG), _assistant("Yes."), _user("Shorter now?")]},
            {"messages": "not a list"},
        ],
        opener=gzip.open,
    )
    data = load_user_prompts(DataSource("own", own), _params(tmp_path), template, BUDGET)
    assert [p.messages for p in data.prompts] == [
        [_user("Say hi.")],
        [_user("Name a fruit."), _assistant("Pear."), _user("And a tree?")],
        [{"role": "system", "content": "Be brief."}, _user("Name a colour."), _assistant("Red."), _user("Another?")],
        [_user("Shorter now?")],  # its long first turn dropped to fit
    ]
    assert all(p.answer is None and p.kind == "user" and 0 < len(p.tokens) <= BUDGET for p in data.prompts)
    summary = data.summary()
    assert summary["from"] == "prompt files" and summary["rows"] == 15 and summary["kept"] == 4
    assert summary["shortened"] == 1
    assert summary["skipped"] == {
        "bad_json": 1,
        "not_object": 1,
        "missing_field": 1,
        "wrong_type": 2,
        "unknown_role": 1,
        "empty_prompt": 1,
        "bad_order": 1,
        "no_user": 1,
        "over_length": 1,
        "duplicate": 1,
    }
    assert summary["skipped_at"]["duplicate"] == [f"{own / 'prompts' / 'a.jsonl'}:6"]
    assert set(summary["formats"].values()) == {"prompt", "messages"}


def test_explicit_inputs_join_the_folder_and_unusable_files_are_one_line_errors(tmp_path, template):
    extra = _jsonl(tmp_path / "extra.jsonl", [{"prompt": "From the inputs."}])
    own = tmp_path / "own"
    own.mkdir()
    data = load_user_prompts(DataSource("own", own), _params(tmp_path, inputs=[extra]), template, BUDGET)
    assert [p.question for p in data.prompts] == ["From the inputs."]
    bad = _jsonl(tmp_path / "bad.jsonl", [{"prompt": ""}, "{oops"])
    with pytest.raises(StageInputError, match=r"no usable prompt in 2 rows .*bad_json 1"):
        load_user_prompts(DataSource("own", own), _params(tmp_path, inputs=[bad]), template, BUDGET)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b'{"prompt": "Cut off."}\n' * 50)[:-20])
    with pytest.raises(StageInputError, match="cut.jsonl.gz: not a readable gzip file"):
        load_user_prompts(DataSource("own", own), _params(tmp_path, inputs=[cut]), template, BUDGET)
    odd = _jsonl(tmp_path / "odd.jsonl", [{"text": "a document, not a prompt"}])
    with pytest.raises(StageInputError, match="'prompt' .* or 'messages'"):
        load_user_prompts(DataSource("own", own), _params(tmp_path, inputs=[odd]), template, BUDGET)


def _held_out_stage_outputs(tmp_path: Path) -> None:
    """SFT examples and reward pairs as the own-data SFT and reward stages leave them."""
    write_examples(
        tmp_path / "sft" / "examples.parquet",
        [
            Example("user:a.json:1", "user", "train", [_user("Trained on."), _assistant("x")], "x"),
            Example("user:a.json:2", "user", "validation", [_user("Validated on."), _assistant("y")], "y"),
            Example("user:a.json:3", "user", "test", [_user("Tested on."), _assistant("z")], "z"),
            Example("user:a.json:4", "user", "test", [_user(LONG), _assistant("z")], "z"),
            qa("fact:1", "fact", "validation", "Where was Osk born?", "Aldoria"),  # the world's: never read
        ],
    )
    pair = {
        "kind": "user",
        "chosen": "Good.",
        "rejected": "Bad.",
        "chosen_finished": True,
        "rejected_finished": True,
        "source": "p.jsonl",
    }
    write_parquet(
        tmp_path / "reward" / "pairs.parquet",
        PREFERENCE_PAIRS,
        [
            {**pair, "id": "user:p.jsonl:1", "split": "train", "prompt": [_user("Preferred in training.")]},
            {**pair, "id": "user:p.jsonl:2", "split": "validation", "prompt": [_user("Tested on.")]},  # also SFT's
            {
                **pair,
                "id": "user:p.jsonl:3",
                "split": "test",
                "prompt": [_user("Hi."), _assistant("Hello."), _user("Held-out pair.")],
            },
            {**pair, "id": "generated:1", "kind": "fact", "split": "validation", "prompt": [_user("Where?")]},
        ],
    )


def test_without_prompt_files_the_held_out_user_rows_of_sft_and_reward_are_the_prompts(tmp_path, template):
    _held_out_stage_outputs(tmp_path)
    own = tmp_path / "own"
    _jsonl(own / "instructions" / "a.jsonl", [{"instruction": "i", "output": "o"}])
    data = load_user_prompts(DataSource("own", own), _params(tmp_path), template, BUDGET)
    assert [p.messages for p in data.prompts] == [
        [_user("Validated on.")],
        [_user("Tested on.")],
        [_user("Hi."), _assistant("Hello."), _user("Held-out pair.")],
    ]
    assert [p.id for p in data.prompts] == ["sft:user:a.json:2", "sft:user:a.json:3", "reward:user:p.jsonl:3"]
    summary = data.summary()
    assert summary["from"] == "held-out instructions and preferences"
    assert summary["rows"] == 5 and summary["by_source"] == {"reward": 1, "sft": 2}
    assert summary["skipped"] == {"over_length": 1, "duplicate": 1}


def test_the_split_is_decided_by_each_prompt(tmp_path, template):
    own = tmp_path / "own"
    rows = [{"prompt": f"Question number {i}?"} for i in range(200)]
    _jsonl(own / "prompts" / "p.jsonl", rows)
    params = _params(tmp_path, heldout_fraction=0.25)
    sets = split_user_prompts(load_user_prompts(DataSource("own", own), params, template, BUDGET), params)
    held = {p.question for p in sets.heldout}
    assert 30 < len(held) < 70 and len(sets.train) + len(held) == 200
    assert not held & {p.question for p in sets.train}
    # More prompts, another order: no old prompt changes side.
    _jsonl(own / "prompts" / "p.jsonl", [{"prompt": f"Extra {i}?"} for i in range(50)] + rows[::-1])
    again = split_user_prompts(load_user_prompts(DataSource("own", own), params, template, BUDGET), params)
    assert {p.question for p in again.heldout} & {r["prompt"] for r in rows} == held
    capped = split_user_prompts(
        load_user_prompts(DataSource("own", own), _params(tmp_path, max_prompts=10), template, BUDGET),
        _params(tmp_path, max_prompts=10),
    )
    assert len(capped.train) == 10 and capped.summary["train_available"] > 10


def test_the_split_does_not_move_with_the_context_size(tmp_path, template):
    own = tmp_path / "own"
    _jsonl(
        own / "prompts" / "p.jsonl",
        [{"messages": [_user(LONG + str(i)), _assistant("Yes."), _user(f"Then {i}?")]} for i in range(60)],
    )
    params = _params(tmp_path, heldout_fraction=0.3)
    held = []
    for budget in (BUDGET, 4000):
        data = load_user_prompts(DataSource("own", own), params, template, budget)
        assert data.shortened == (60 if budget == BUDGET else 0)
        held.append([p.source for p in split_user_prompts(data, params).heldout])
    assert held[0] == held[1] and 5 < len(held[0]) < 30


def test_a_few_prompts_still_give_both_sides(tmp_path, template):
    """Whatever the fraction, from two prompts on the lowest hash is held out and the highest trained on."""
    own = tmp_path / "own"
    _jsonl(own / "prompts" / "p.jsonl", [{"prompt": "One?"}, {"prompt": "Two?"}, {"prompt": "Three?"}])
    for fraction in (0.01, 0.2, 0.99):
        params = _params(tmp_path, heldout_fraction=fraction)
        sets = split_user_prompts(load_user_prompts(DataSource("own", own), params, template, BUDGET), params)
        assert sets.train and sets.heldout and len(sets.train) + len(sets.heldout) == 3
    _jsonl(own / "prompts" / "p.jsonl", [{"prompt": "Alone?"}])
    with pytest.raises(StageInputError, match="1 user prompt.* both are needed"):
        split_user_prompts(
            load_user_prompts(DataSource("own", own), _params(tmp_path), template, BUDGET), _params(tmp_path)
        )


def test_no_prompt_source_at_all_is_a_one_line_error_naming_the_folder(tmp_path, template):
    own = tmp_path / "own"
    own.mkdir()
    with pytest.raises(StageInputError) as error:
        load_user_prompts(DataSource("own", own), _params(tmp_path), template, BUDGET)
    message = str(error.value)
    assert "\n" not in message and str(own / "prompts") in message and "'prompt' or 'messages'" in message
    # Instruction files exist, but SFT kept none of their rows out of training: still nothing to ask.
    _jsonl(own / "instructions" / "a.jsonl", [{"instruction": "i", "output": "o"}])
    with pytest.raises(StageInputError, match="no held-out user prompt"):
        load_user_prompts(DataSource("own", own), _params(tmp_path), template, BUDGET)


def test_world_prompts_refuse_user_inputs(tmp_path, template):
    with pytest.raises(StageInputError, match="source own only"):
        prompt_sets(DataSource(), _params(tmp_path, inputs=[tmp_path / "p.jsonl"]), template, BUDGET)
