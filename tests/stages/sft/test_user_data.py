"""User instruction data: Alpaca, Dolly, OpenAI messages and ShareGPT, from JSONL, JSON and
Parquet (gzipped too); each bad-row reason is skipped and counted with its row; all-bad input is an
error; the train / validation / test split is decided by each row's content."""

from __future__ import annotations

import gzip
import json
import time
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from kit.chat import small_tokenizer
from kit.ingest import write_jsonl
from kit.row_files import check_unusable_inputs_are_errors
from stages.sft.params import UserDataParams
from stages.sft.split import TEST, TRAIN, VALIDATION
from stages.sft.user_data import load_user_data
from stages.sft.user_formats import SKIP_REASONS

MAX_TOKENS = 120

GOOD = {
    "alpaca": [
        {"instruction": "Name the river.", "input": "Ostrand lies on the Velmar.", "output": "The Velmar."},
        {"instruction": "Say hi.", "input": "", "output": "Hi."},
    ],
    "dolly": [
        {
            "instruction": "When was Maren born?",
            "context": "Maren Okafor was born in 1871.",
            "response": "In 1871.",
            "category": "closed_qa",
        }
    ],
    "openai": [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Bye."},
            ]
        }
    ],
    "sharegpt": [{"id": "a1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]}],
}
EXPECTED_FIRST = {
    "alpaca": [
        {"role": "user", "content": "Name the river.\n\nOstrand lies on the Velmar."},
        {"role": "assistant", "content": "The Velmar."},
    ],
    "dolly": [
        {"role": "user", "content": "When was Maren born?\n\nMaren Okafor was born in 1871."},
        {"role": "assistant", "content": "In 1871."},
    ],
    "openai": GOOD["openai"][0]["messages"],
    "sharegpt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
}
LONG = "word " * 400

# One bad row per reason (in OpenAI / ShareGPT / Alpaca shape), with the reason it must be counted under.
BAD_OPENAI = [
    ({"messages": [{"role": "user", "content": "Hi"}]}, "no_assistant"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  \n"}]}, "empty_assistant"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "tool", "content": "{}"}]}, "unknown_role"),
    ({"messages": [{"role": "user", "content": ["Hi"]}, {"role": "assistant", "content": "x"}]}, "wrong_type"),
    ({"messages": "Hi"}, "wrong_type"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}, "missing_field"),
    ({"messages": None}, "missing_field"),
    ({"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "x"}]}, "empty_prompt"),
    (
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "system", "content": "Obey."},
                {"role": "assistant", "content": "x"},
            ]
        },
        "bad_order",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "x"},
                {"role": "user", "content": "more"},
            ]
        },
        "bad_order",
    ),
    ({"messages": [{"role": "user", "content": LONG}, {"role": "assistant", "content": "x"}]}, "over_length"),
    (["not", "an", "object"], "not_object"),
]
BAD_ALPACA = [
    ({"instruction": "Hi", "output": ""}, "empty_assistant"),
    ({"instruction": "", "output": "x"}, "empty_prompt"),
    ({"instruction": "Hi", "input": 3, "output": "x"}, "wrong_type"),
    ({"instruction": None, "output": "x"}, "missing_field"),
]


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def load(template, inputs, max_tokens: int = MAX_TOKENS, **params):
    return load_user_data(
        UserDataParams(**{"inputs": inputs, "validation_fraction": 0.0, "test_fraction": 0.0, **params}),
        template,
        max_tokens,
    )


@pytest.mark.parametrize("fmt", list(GOOD))
def test_each_format_is_detected_and_converted_from_jsonl_and_parquet(tmp_path, template, fmt):
    jsonl = write_jsonl(tmp_path / f"{fmt}.jsonl", GOOD[fmt])
    parquet = tmp_path / f"{fmt}.parquet"
    pq.write_table(pa.Table.from_pylist(GOOD[fmt]), parquet)
    for path in (jsonl, parquet):
        data = load(template, [path])
        assert data.formats == {str(path): fmt}
        assert len(data.examples) == len(GOOD[fmt]) and not data.skipped
        first = data.examples[0]
        assert first.messages == EXPECTED_FIRST[fmt] and first.kind == "user"
        assert first.answer == first.messages[-1]["content"] and first.source == f"{path}:1"


def test_alpaca_without_input_is_the_instruction_alone(tmp_path, template):
    data = load(template, [write_jsonl(tmp_path / "a.jsonl", GOOD["alpaca"])])
    assert data.examples[1].messages[0] == {"role": "user", "content": "Say hi."}


def test_json_array_files_and_directories_are_read(tmp_path, template):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.json").write_text(json.dumps(GOOD["alpaca"]))
    write_jsonl(tmp_path / "d" / "b.jsonl", GOOD["sharegpt"])
    (tmp_path / "d" / "notes.txt").write_text("ignored")
    data = load(template, [tmp_path / "d"])
    assert sorted(data.formats.values()) == ["alpaca", "sharegpt"] and len(data.examples) == 3


def test_every_bad_row_reason_is_counted_with_its_row_number(tmp_path, template):
    path = write_jsonl(tmp_path / "chat.jsonl", [*GOOD["openai"], *(row for row, _ in BAD_OPENAI), b"{not json"])
    with path.open("ab") as f:
        f.write(b'{"messages": "\xff"}\n')
    data = load(template, [path], examples_per_reason=5)
    assert len(data.examples) == 1 and data.rows == 1 + len(BAD_OPENAI) + 2
    expected = {}
    for _, reason in BAD_OPENAI:
        expected[reason] = expected.get(reason, 0) + 1
    expected["bad_json"] = 2
    assert dict(data.skipped) == expected
    # Row numbers are line numbers: the good row is line 1, the bad ones follow in order.
    for line, (_, reason) in enumerate(BAD_OPENAI, start=2):
        assert f"{path}:{line}" in data.where[reason]
    assert data.where["bad_json"] == [f"{path}:{len(BAD_OPENAI) + 2}", f"{path}:{len(BAD_OPENAI) + 3}"]
    assert set(data.summary()["skipped"]) <= set(SKIP_REASONS)

    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [*GOOD["alpaca"], *(row for row, _ in BAD_ALPACA)])
    data = load(template, [alpaca])
    assert dict(data.skipped) == {reason: 1 for _, reason in BAD_ALPACA}


def test_sharegpt_roles_outside_human_gpt_system_are_unknown(tmp_path, template):
    rows = [*GOOD["sharegpt"], {"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "x"}]}]
    data = load(template, [write_jsonl(tmp_path / "s.jsonl", rows)])
    assert dict(data.skipped) == {"unknown_role": 1}


def test_over_length_is_measured_in_tokens_after_templating(tmp_path, template):
    ok = {"instruction": "x", "output": "y"}
    size = len(template.render([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]))
    data = load(template, [write_jsonl(tmp_path / "a.jsonl", [ok])], max_tokens=size)
    assert len(data.examples) == 1
    with pytest.raises(StageInputError, match="over_length 1"):
        load(template, [write_jsonl(tmp_path / "b.jsonl", [ok])], max_tokens=size - 1)


def test_json_bombs_are_counted_and_a_huge_turn_is_over_length_before_it_is_tokenised(tmp_path, template):
    chat = GOOD["openai"][0]["messages"]
    lines = [
        "[" * 1000 + "]" * 1000,  # too_deep: a RecursionError in json's parser
        json.dumps({"messages": [{"role": "user", "content": "x" * 10_000_000}, *chat[1:]]}),  # too_large: 10 MB
        # over_length: 3 MB, within the row bound, that the tokenizer needs seconds and a GB to count
        json.dumps({"messages": [*chat[:-1], {"role": "assistant", "content": "word " * 600_000}]}),
        json.dumps(GOOD["openai"][0]),
    ]
    start = time.monotonic()
    data = load(template, [write_jsonl(tmp_path / "bombs.jsonl", [line.encode() for line in lines])])
    assert time.monotonic() - start < 2
    assert [e.messages for e in data.examples] == [chat]
    assert data.summary()["skipped"] == {"too_large": 1, "too_deep": 1, "over_length": 1}


def test_all_bad_input_is_a_clear_error(tmp_path, template):
    path = write_jsonl(tmp_path / "bad.jsonl", [row for row, _ in BAD_OPENAI if isinstance(row, dict)])
    with pytest.raises(StageInputError, match=r"no usable row in \d+ rows of 1 file\(s\) \(.*no_assistant"):
        load(template, [path])


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"text": "just text"}\n', "cannot tell the format"),
        ("", "cannot tell the format"),
        ('{"a": 1}', "cannot tell the format"),
    ],
)
def test_undetectable_files_are_errors(tmp_path, template, content, message):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(StageInputError, match=message):
        load(template, [path])


def test_unusable_inputs_are_errors(tmp_path, template):
    check_unusable_inputs_are_errors(partial(load, template), tmp_path, a_format="alpaca", not_a_format="csv")


def test_a_given_format_overrides_detection(tmp_path, template):
    path = write_jsonl(tmp_path / "a.jsonl", GOOD["alpaca"])
    with pytest.raises(StageInputError, match="missing_field 2"):
        load(template, [path], format="openai")


def test_no_inputs_is_no_user_data(template):
    data = load(template, [])
    assert data.examples == [] and data.rows == 0


def test_validation_rows_are_chosen_by_content(tmp_path, template):
    rows = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(400)]
    first = load(template, [write_jsonl(tmp_path / "a.jsonl", rows)], validation_fraction=0.2)
    again = load(template, [write_jsonl(tmp_path / "b.jsonl", rows[::-1])], validation_fraction=0.2)
    in_validation = {e.answer for e in first.examples if e.split == VALIDATION}
    assert 40 < len(in_validation) < 120
    assert in_validation == {e.answer for e in again.examples if e.split == VALIDATION}
    assert all(e.split == TRAIN for e in load(template, [tmp_path / "a.jsonl"]).examples)


def test_the_test_split_is_a_band_of_the_hash_that_moves_no_validation_row(tmp_path, template):
    rows = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(400)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    before = load(template, [path], validation_fraction=0.2)
    after = load(template, [path], validation_fraction=0.2, test_fraction=0.2)
    again = load(template, [write_jsonl(tmp_path / "b.jsonl", rows[::-1])], validation_fraction=0.2, test_fraction=0.2)
    split_of = lambda data: {e.answer: e.split for e in data.examples}  # noqa: E731
    assert split_of(after) == split_of(again)  # the content decides, not the order
    tested = {a for a, s in split_of(after).items() if s == TEST}
    assert 40 < len(tested) < 120
    assert {a for a, s in split_of(before).items() if s == VALIDATION} == {
        a for a, s in split_of(after).items() if s == VALIDATION
    }
    assert all(split_of(before)[a] == TRAIN for a in tested)  # test rows come out of train only
    with pytest.raises(ValidationError, match="test_fraction"):
        UserDataParams(validation_fraction=0.5, test_fraction=0.5)


def test_gzipped_jsonl_and_json_files_are_read(tmp_path, template):
    plain = write_jsonl(tmp_path / "a.jsonl", GOOD["alpaca"])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    (tmp_path / "d" / "b.json.gz").write_bytes(gzip.compress(json.dumps(GOOD["sharegpt"]).encode()))
    data = load(template, [tmp_path / "d"])
    assert data.formats == {str(tmp_path / "d" / "a.jsonl.gz"): "alpaca", str(tmp_path / "d" / "b.json.gz"): "sharegpt"}
    assert [e.messages for e in data.examples] == [
        *(e.messages for e in load(template, [plain]).examples),
        EXPECTED_FIRST["sharegpt"],
    ]
    truncated = tmp_path / "t.jsonl.gz"
    truncated.write_bytes(gzip.compress(plain.read_bytes())[:-12])
    with pytest.raises(StageInputError, match="not a readable gzip file"):
        load(template, [truncated])


def test_files_with_one_name_in_two_folders_get_distinct_ids(tmp_path, template):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        write_jsonl(tmp_path / folder / "data.jsonl", GOOD["alpaca"])
    data = load(template, [tmp_path / "x", tmp_path / "y", tmp_path / "x" / "data.jsonl"])  # x's file once
    assert len(data.examples) == 4 and len({e.id for e in data.examples}) == 4
