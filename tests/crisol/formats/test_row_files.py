"""A user's row files read with bounds: a JSON bomb (a row nested a thousand deep, a 10 MB string) is
a counted skip found before json parses it, never a RecursionError or seconds of work, in JSONL as
in a JSON array; what is within the bounds reads as json reads it, errors included."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from crisol.core.errors import StageInputError
from crisol.formats.row_files import MAX_DEPTH, MAX_ROW_BYTES, RowLedger, convert_rows, read_rows

GOOD = {"messages": [{"role": "user", "content": "Hi [and {brackets} in text]"}]}
DEEP = "[" * 1000 + "]" * 1000  # json's parser recurses once per level: a RecursionError near 1,000
HUGE = json.dumps({"text": "x" * 10_000_000})  # 10 MB in one string
# The reasons as literals: the test must run (and fail) against a reader that does not know them.
REASONS = ("bad_json", "too_large", "too_deep")


def write(path, rows: list[str]) -> None:
    """JSONL (one row a line) or a JSON array of the rows (each already JSON), gzipped by its name."""
    text = "\n".join(rows) + "\n" if ".jsonl" in path.name else "[\n" + ",\n".join(rows) + "\n]"
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json", "rows.jsonl.gz", "rows.json.gz"])
def test_a_deep_and_a_huge_row_are_counted_quickly_and_the_good_row_is_read(tmp_path, name):
    path = tmp_path / name
    write(path, [DEEP, HUGE, json.dumps(GOOD)])
    ledger = RowLedger(reasons=REASONS)
    start = time.monotonic()
    rows = [(number, row) for _, number, row in convert_rows([path], "any", str, lambda row, _: row, ledger, keep=5)]
    assert time.monotonic() - start < 2
    assert rows == [(3, GOOD)]
    assert ledger.summary(kept=1)["skipped"] == {"too_large": 1, "too_deep": 1}
    assert ledger.where == {"too_deep": [f"{path}:1"], "too_large": [f"{path}:2"]}


def nested(depth: int) -> str:
    return "[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json"])
def test_the_bounds_are_exact_and_brackets_in_strings_do_not_count(tmp_path, name):
    path = tmp_path / name
    in_strings = json.dumps({"text": "[" * 2000, "quoted": '"\\' + "{" * 2000})  # escapes too
    at_limit, over = (json.dumps({"text": "y" * (MAX_ROW_BYTES - len('{"text": ""}') + n)}) for n in (0, 1))
    assert len(at_limit) == MAX_ROW_BYTES
    write(path, [nested(MAX_DEPTH), nested(MAX_DEPTH + 1), in_strings, at_limit, over])
    rows = [row if not isinstance(row, ValueError) else row.reason for _, row in read_rows(path)]
    assert rows == [
        json.loads(nested(MAX_DEPTH)),
        "too_deep",
        json.loads(in_strings),
        json.loads(at_limit),
        "too_large",
    ]


def test_jsonl_lines_keep_their_numbers_around_a_skipped_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    # A line over the bound is read past in chunks; the last line has no newline.
    path.write_text(f"{json.dumps(GOOD)}\n\n{'z' * (3 * MAX_ROW_BYTES)}\n[1, 2]\n{'[' * 100_000}\n" + "1" * 5000)
    rows = [(n, row if not isinstance(row, ValueError) else row.reason) for n, row in read_rows(path)]
    # A number of over 4,300 digits is bad_json (Python's int limit), not a ValueError out of the reader.
    assert rows == [(1, GOOD), (3, "too_large"), (4, [1, 2]), (5, "too_deep"), (6, "bad_json")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[]", []),
        (' [ {"a": "]"} ,\n 2 ] \n', [{"a": "]"}, 2]),
        ("[1,]", "not valid JSON (Expecting value: line 1 column 4 (char 3))"),
        ("[1 2]", "not valid JSON (Expecting ',' delimiter: line 1 column 4 (char 3))"),
        ("[1] x", "not valid JSON (Extra data: line 1 column 5 (char 4))"),
        ('[{"a": 1', "not valid JSON (Expecting ',' delimiter: line 1 column 9 (char 8))"),
        ("", "not valid JSON (Expecting value: line 1 column 1 (char 0))"),
        ('{"a": 1}', "a .json file must hold an array of rows"),
        ("[" + "1" * 5000 + "]", "not valid JSON (Exceeds the limit (4300 digits)"),
    ],
)
def test_a_json_array_reads_as_json_reads_it_errors_included(tmp_path, text, expected):
    path = tmp_path / "rows.json"
    path.write_text(text)
    if isinstance(expected, list):
        assert [row for _, row in read_rows(path)] == expected == json.loads(text)
    else:
        with pytest.raises(
            StageInputError, match=f"^user data: {path}: {expected}".replace("(", r"\(").replace(")", r"\)")
        ):
            list(read_rows(path))
