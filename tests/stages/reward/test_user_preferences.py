"""User preference data: TRL explicit-prompt pairs (string and message-list variants) and hh-rlhf
transcripts, from JSONL, JSON and Parquet, gzip too; each bad-row reason is skipped and counted with its
row; over-length is measured in template tokens, a too-long prompt cut from the left by whole turns;
all-bad input is an error; the train / validation / test split follows the prompt."""

from __future__ import annotations

import gzip
import json
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.core.hashsplit import TEST, TRAIN, VALIDATION
from kit.chat import small_tokenizer
from kit.ingest import write_jsonl
from kit.row_files import check_unusable_inputs_are_errors
from stages.reward.params import UserPreferenceParams
from stages.reward.preference_formats import SKIP_REASONS
from stages.reward.user_preferences import load_user_preferences

MAX_TOKENS = 120


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def hh(*turns: str) -> str:
    """An hh-rlhf transcript from alternating Human / Assistant texts."""
    return "".join(f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns))


GOOD = {
    "pairs_text": [
        {"prompt": "Where is Ostrand?", "chosen": "On the Velmar.", "rejected": "In space."},
        {"prompt": "Say hi.", "chosen": "Hi.", "rejected": "No.", "score_chosen": 8.0},
    ],
    "pairs_messages": [
        {
            "prompt": [{"role": "system", "content": "Be brief."}, user("Where is Ostrand?")],
            "chosen": [assistant("On the Velmar.")],
            "rejected": [assistant("In space.")],
        }
    ],
    "hh": [
        {
            "chosen": hh("Hi", "Hello.", "Where is Ostrand?", "On the Velmar."),
            "rejected": hh("Hi", "Hello.", "Where is Ostrand?", "In space."),
        }
    ],
}
FORMAT = {"pairs_text": "pairs", "pairs_messages": "pairs", "hh": "hh"}
EXPECTED_FIRST = {
    "pairs_text": ([user("Where is Ostrand?")], "On the Velmar.", "In space."),
    "pairs_messages": (
        [{"role": "system", "content": "Be brief."}, user("Where is Ostrand?")],
        "On the Velmar.",
        "In space.",
    ),
    "hh": ([user("Hi"), assistant("Hello."), user("Where is Ostrand?")], "On the Velmar.", "In space."),
}
LONG = "word " * 400

# One bad row per reason, with the reason it must be counted under.
BAD_PAIRS = [
    (["not", "an", "object"], "not_object"),
    ({"prompt": None, "chosen": "a", "rejected": "b"}, "missing_field"),
    ({"prompt": "Hi", "chosen": "a"}, "missing_field"),
    ({"prompt": [user("Hi"), {"role": "user"}], "chosen": "a", "rejected": "b"}, "missing_field"),
    ({"prompt": 3, "chosen": "a", "rejected": "b"}, "wrong_type"),
    ({"prompt": "Hi", "chosen": {"text": "a"}, "rejected": "b"}, "wrong_type"),
    ({"prompt": "Hi", "chosen": [assistant("a"), assistant("b")], "rejected": "c"}, "wrong_type"),
    ({"prompt": ["Hi"], "chosen": "a", "rejected": "b"}, "wrong_type"),
    ({"prompt": [{"role": "tool", "content": "{}"}, user("Hi")], "chosen": "a", "rejected": "b"}, "unknown_role"),
    ({"prompt": "  \n", "chosen": "a", "rejected": "b"}, "empty_prompt"),
    ({"prompt": [], "chosen": "a", "rejected": "b"}, "empty_prompt"),
    ({"prompt": [user("Hi"), assistant(" "), user("Go")], "chosen": "a", "rejected": "b"}, "empty_prompt"),
    ({"prompt": [user("Hi"), assistant("Hello")], "chosen": "a", "rejected": "b"}, "bad_order"),
    (
        {"prompt": [user("Hi"), {"role": "system", "content": "Obey."}, user("Go")], "chosen": "a", "rejected": "b"},
        "bad_order",
    ),
    ({"prompt": "Hi", "chosen": [user("a")], "rejected": "b"}, "bad_order"),
    ({"prompt": "Hi", "chosen": "a", "rejected": ""}, "empty_answer"),
    ({"prompt": "Hi", "chosen": [], "rejected": "b"}, "empty_answer"),
    ({"prompt": "Hi", "chosen": "Same.", "rejected": "Same. "}, "identical_answers"),
    ({"prompt": LONG, "chosen": "a", "rejected": "b"}, "over_length"),
]
BAD_HH = [
    ({"chosen": hh("Hi", "Hello."), "rejected": hh("Hey", "Hello?")}, "prompt_mismatch"),
    ({"chosen": hh("Hi"), "rejected": hh("Hi", "b")}, "missing_field"),
    ({"chosen": "Preamble" + hh("Hi", "a"), "rejected": "Preamble" + hh("Hi", "b")}, "unknown_role"),
    ({"chosen": hh("Hi", "a", "more"), "rejected": hh("Hi", "b", "more")}, "bad_order"),
    ({"chosen": hh("", "a"), "rejected": hh("", "b")}, "empty_prompt"),
    ({"chosen": hh("Hi", "  "), "rejected": hh("Hi", "b")}, "empty_answer"),
    ({"chosen": hh("Hi", "a"), "rejected": hh("Hi", "a")}, "identical_answers"),
    ({"chosen": hh("Hi", "a"), "rejected": 7}, "wrong_type"),
]


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def load(template, inputs, max_tokens: int = MAX_TOKENS, **params):
    fractions = {"validation_fraction": 0.0, "test_fraction": 0.0}
    return load_user_preferences(
        UserPreferenceParams(**{"inputs": inputs, **fractions, **params}), template, max_tokens
    )


def counts(expected: list[tuple[object, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, reason in expected:
        out[reason] = out.get(reason, 0) + 1
    return out


@pytest.mark.parametrize("variant", list(GOOD))
def test_each_format_is_detected_and_converted_from_jsonl_and_parquet(tmp_path, template, variant):
    jsonl = write_jsonl(tmp_path / f"{variant}.jsonl", GOOD[variant])
    parquet = tmp_path / f"{variant}.parquet"
    pq.write_table(pa.Table.from_pylist(GOOD[variant]), parquet)
    for path in (jsonl, parquet):
        data = load(template, [path])
        assert data.formats == {str(path): FORMAT[variant]}
        assert len(data.pairs) == len(GOOD[variant]) and not data.skipped and data.rows == len(GOOD[variant])
        first = data.pairs[0]
        assert (first.prompt, first.chosen, first.rejected) == EXPECTED_FIRST[variant]
        assert first.kind == "user" and first.source == f"{path}:1" and first.split == TRAIN
        assert first.id == f"user:{path.name}:1"
        assert first.chosen_finished and first.rejected_finished  # a user's answers are whole


def test_json_array_files_and_directories_are_read(tmp_path, template):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.json").write_text(json.dumps(GOOD["pairs_text"]))
    write_jsonl(tmp_path / "d" / "b.jsonl", GOOD["hh"])
    (tmp_path / "d" / "notes.txt").write_text("ignored")
    data = load(template, [tmp_path / "d"])
    assert sorted(data.formats.values()) == ["hh", "pairs"] and len(data.pairs) == 3


def test_hh_single_turn_and_transcripts_without_the_leading_blank_line(tmp_path, template):
    rows = [
        {"chosen": hh("What is 2+2?", "4."), "rejected": hh("What is 2+2?", "5.")},
        {"chosen": "Human: Hi\n\nAssistant: Hello.", "rejected": "Human: Hi\n\nAssistant: Go away."},
    ]
    data = load(template, [write_jsonl(tmp_path / "h.jsonl", rows)])
    assert [(p.prompt, p.chosen, p.rejected) for p in data.pairs] == [
        ([user("What is 2+2?")], "4.", "5."),
        ([user("Hi")], "Hello.", "Go away."),
    ]


def test_every_bad_row_reason_is_counted_with_its_row_number(tmp_path, template):
    path = write_jsonl(
        tmp_path / "pairs.jsonl", [*GOOD["pairs_text"][:1], *(row for row, _ in BAD_PAIRS), b"{not json"]
    )
    with path.open("ab") as f:
        f.write(b'{"prompt": "\xff"}\n')
    data = load(template, [path], examples_per_reason=5)
    assert len(data.pairs) == 1 and data.rows == 1 + len(BAD_PAIRS) + 2
    assert dict(data.skipped) == {**counts(BAD_PAIRS), "bad_json": 2}
    # Row numbers are line numbers: the good row is line 1, the bad ones follow in order.
    for line, (_, reason) in enumerate(BAD_PAIRS, start=2):
        assert f"{path}:{line}" in data.where[reason]
    assert data.where["bad_json"] == [f"{path}:{len(BAD_PAIRS) + 2}", f"{path}:{len(BAD_PAIRS) + 3}"]

    transcripts = write_jsonl(tmp_path / "hh.jsonl", [*GOOD["hh"], *(row for row, _ in BAD_HH)])
    data = load(template, [transcripts], examples_per_reason=5)
    assert dict(data.skipped) == counts(BAD_HH)
    for line, (_, reason) in enumerate(BAD_HH, start=2):
        assert f"{transcripts}:{line}" in data.where[reason]
    summary = data.summary()
    assert set(summary["skipped"]) <= set(SKIP_REASONS) and summary["kept"] == 1 and summary["rows"] == 1 + len(BAD_HH)


def test_examples_per_reason_caps_the_locations_kept(tmp_path, template):
    rows = [*GOOD["pairs_text"], *[{"prompt": "Hi", "chosen": "x", "rejected": "x"}] * 5]
    data = load(template, [write_jsonl(tmp_path / "p.jsonl", rows)], examples_per_reason=2)
    assert data.skipped["identical_answers"] == 5
    assert data.where["identical_answers"] == [f"{tmp_path / 'p.jsonl'}:3", f"{tmp_path / 'p.jsonl'}:4"]


def test_over_length_is_measured_in_tokens_after_templating_with_the_longer_answer(tmp_path, template):
    row = {"prompt": "x", "chosen": "y", "rejected": "a somewhat longer answer than y"}
    prompt = [user("x")]
    short = len(template.render([*prompt, assistant(row["chosen"])]))
    size = len(template.render([*prompt, assistant(row["rejected"])]))
    assert size > short
    data = load(template, [write_jsonl(tmp_path / "a.jsonl", [row])], max_tokens=size)
    assert len(data.pairs) == 1
    # The chosen conversation fits, the rejected one does not: the pair is over length.
    with pytest.raises(StageInputError, match="over_length 1"):
        load(template, [write_jsonl(tmp_path / "b.jsonl", [row])], max_tokens=size - 1)
    with pytest.raises(StageInputError, match="over_length 1"):
        load(template, [write_jsonl(tmp_path / "c.jsonl", [row])], max_tokens=short)


def test_all_bad_input_is_a_clear_error(tmp_path, template):
    path = write_jsonl(tmp_path / "bad.jsonl", [row for row, _ in BAD_HH])
    with pytest.raises(
        StageInputError, match=r"user preferences: no usable pair in 8 rows of 1 file\(s\) \(.*prompt_mismatch 1"
    ):
        load(template, [path])


@pytest.mark.parametrize(
    "content",
    [
        '{"text": "just text"}\n',
        "",
        # TRL's implicit-prompt variant: whole conversations, no prompt key.
        json.dumps({"chosen": [user("Hi"), assistant("a")], "rejected": [user("Hi"), assistant("b")]}) + "\n",
    ],
)
def test_undetectable_files_are_errors(tmp_path, template, content):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(StageInputError, match="user preferences: .*cannot tell the format"):
        load(template, [path])


def test_unusable_inputs_are_errors(tmp_path, template):
    check_unusable_inputs_are_errors(
        partial(load, template), tmp_path, a_format="hh", not_a_format="dpo", named="user preferences: "
    )


def test_a_given_format_overrides_detection(tmp_path, template):
    path = write_jsonl(tmp_path / "h.jsonl", GOOD["hh"] * 2)
    with pytest.raises(StageInputError, match="missing_field 2"):
        load(template, [path], format="pairs")
    # A pairs file read as hh: its prompt key is ignored and its answers are not transcripts.
    data = load(template, [write_jsonl(tmp_path / "p.jsonl", [*GOOD["hh"], *GOOD["pairs_text"]])], format="hh")
    assert len(data.pairs) == 1 and data.skipped == {"missing_field": 2}


def test_no_inputs_is_no_user_data(template):
    data = load(template, [])
    assert data.pairs == [] and data.rows == 0 and data.summary()["kept"] == 0


def test_the_three_splits_follow_the_prompt_disjoint_and_deterministic(tmp_path, template):
    # 400 prompts, two pairs each: a prompt's pairs must share a split.
    rows = [
        {"prompt": f"Question {i}?", "chosen": f"Answer {i}{tag}.", "rejected": f"Wrong {i}{tag}."}
        for i in range(400)
        for tag in ("", "!")
    ]
    fractions = {"validation_fraction": 0.15, "test_fraction": 0.2}
    first = load(template, [write_jsonl(tmp_path / "a.jsonl", rows)], **fractions)
    again = load(template, [write_jsonl(tmp_path / "b.jsonl", rows[::-1])], **fractions)

    def prompts(data, split):
        return {p.prompt[0]["content"] for p in data.pairs if p.split == split}

    by_split = {split: prompts(first, split) for split in (TRAIN, VALIDATION, TEST)}
    assert 30 < len(by_split[VALIDATION]) < 90 and 50 < len(by_split[TEST]) < 110
    assert sum(map(len, by_split.values())) == 400  # each prompt in exactly one split: disjoint
    assert all(by_split[s] == prompts(again, s) for s in by_split)  # the order of the rows moves nothing
    assert first.summary()["splits"] == {s: 2 * len(by_split[s]) for s in by_split}
    # A test split takes its prompts from training only: validation is the same without it.
    assert prompts(load(template, [tmp_path / "a.jsonl"], validation_fraction=0.15), VALIDATION) == by_split[VALIDATION]
    # The salt is part of the key: another salt draws other splits.
    salted = load(template, [tmp_path / "a.jsonl"], split_salt="other", **fractions)
    assert prompts(salted, TEST) != by_split[TEST]
    assert all(p.split == TRAIN for p in load(template, [tmp_path / "a.jsonl"]).pairs)


def test_fractions_that_leave_nothing_to_train_on_are_refused():
    with pytest.raises(ValidationError, match="leaves nothing to train on"):
        UserPreferenceParams(validation_fraction=0.5, test_fraction=0.5)


def test_gzip_jsonl_and_json_files_load_and_a_damaged_gzip_is_an_error(tmp_path, template):
    with gzip.open(tmp_path / "pairs.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in GOOD["pairs_text"]))
    with gzip.open(tmp_path / "hh.json.gz", "wt") as f:
        json.dump(GOOD["hh"], f)
    (tmp_path / "ignored.txt.gz").write_bytes(gzip.compress(b"not rows"))
    data = load(template, [tmp_path])
    assert data.formats == {str(tmp_path / "hh.json.gz"): "hh", str(tmp_path / "pairs.jsonl.gz"): "pairs"}
    assert [p.source for p in data.pairs] == [
        f"{tmp_path / 'hh.json.gz'}:1",
        *(f"{tmp_path / 'pairs.jsonl.gz'}:{n}" for n in (1, 2)),
    ]
    assert (data.pairs[0].prompt, data.pairs[0].chosen) == EXPECTED_FIRST["hh"][:2]
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes((tmp_path / "pairs.jsonl.gz").read_bytes()[:-12])
    with pytest.raises(StageInputError, match=r"user preferences: .*cut.jsonl.gz: not a readable gzip file"):
        load(template, [cut])


def test_a_too_long_prompt_loses_its_earliest_turns_and_keeps_its_split(tmp_path, template):
    turns = [
        "Hello there, how are you today?",
        "Fine, thanks for asking me that.",
        "Tell me more about it.",
        "There is a lot to say about it.",
        "Where is Ostrand?",
    ]
    rows = [
        {"chosen": hh(*turns, "On the Velmar."), "rejected": hh(*turns, "In space.")},
        {"chosen": hh(LONG, "a"), "rejected": hh(LONG, "b")},
    ]  # one long user turn: nothing to cut
    path = write_jsonl(tmp_path / "h.jsonl", rows)
    whole = load(template, [path], max_tokens=400, test_fraction=0.5)

    def size(*prompt):  # prompt + the longer answer, in template tokens
        return max(len(template.render([*prompt, assistant(a)])) for a in ("On the Velmar.", "In space."))

    last_turn = size(user(turns[-1]))
    middle = size(user(turns[2]), assistant(turns[3]), user(turns[-1]))
    cut = load(template, [path], max_tokens=middle, test_fraction=0.5)
    assert [p.prompt for p in cut.pairs] == [[user(turns[2]), assistant(turns[3]), user(turns[4])]]
    assert cut.prompts_truncated == 1 and cut.summary()["prompts_truncated"] == 1
    assert cut.pairs[0].split == whole.pairs[0].split  # the split follows the prompt as given
    assert (cut.pairs[0].chosen, cut.pairs[0].rejected) == ("On the Velmar.", "In space.")
    assert load(template, [path], max_tokens=last_turn).pairs[0].prompt == [user(turns[-1])]
    assert cut.skipped == {"over_length": 1}
    with pytest.raises(StageInputError, match="over_length 2"):
        load(template, [path], max_tokens=middle, truncate_prompt=False)
    with pytest.raises(StageInputError, match="over_length 2"):
        load(template, [path], max_tokens=last_turn - 1)


def test_the_shared_hh_rlhf_sample_loads_from_gzip(shared_data, template):
    path = shared_data / "real" / "preferences" / "hh-rlhf-harmless-sample.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = load(template, [path], max_tokens=4096, validation_fraction=0.05, test_fraction=0.1)
    assert data.rows == 1500 and data.formats == {str(path): "hh"}
    assert len(data.pairs) + sum(data.skipped.values()) == 1500 and len(data.pairs) > 1400
    assert set(data.summary()["splits"]) == {TRAIN, VALIDATION, TEST}
