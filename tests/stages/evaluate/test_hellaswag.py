"""Reading HellaSwag-format files: both layouts, lm-eval's preprocessing, every skip reason counted
with its line, unusable input as a one-line error, and the shared 500-item sample."""

from __future__ import annotations

import json

import pytest

from crisol.core.errors import StageInputError
from kit.evaluate import HELLASWAG
from stages.evaluate.hellaswag import SKIP_REASONS, preprocess, read_hellaswag

GOOD = {"ctx": "Home and Garden: How to water a fern. Check the soil.", "endings": ["a", "b", "c", "d"], "label": 1}

# (line text, the reason it is skipped), one per reason, some more than once.
BAD_LINES = [
    ('{"ctx": "x", "endings": ["a", "b", "c", "d"], "label": 0', "bad_json"),
    (b"\xff\xfe not utf-8", "bad_json"),
    ('["a list"]', "not_an_object"),
    ('"just a string"', "not_an_object"),
    (json.dumps({**GOOD, "label": None}), "missing_label"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "label"}), "missing_label"),
    (json.dumps({**GOOD, "label": ""}), "missing_label"),
    (json.dumps({**GOOD, "label": 4}), "label_out_of_range"),
    (json.dumps({**GOOD, "label": -1}), "label_out_of_range"),
    (json.dumps({**GOOD, "label": "two"}), "label_out_of_range"),
    (json.dumps({**GOOD, "label": True}), "label_out_of_range"),
    (json.dumps({**GOOD, "endings": ["a", "b", "c"]}), "wrong_number_of_endings"),
    (json.dumps({**GOOD, "endings": "abcd"}), "wrong_number_of_endings"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "endings"}), "wrong_number_of_endings"),
    (json.dumps({**GOOD, "ctx": "   "}), "empty_context"),
    (json.dumps({**GOOD, "ctx": 7}), "empty_context"),
    (json.dumps({**GOOD, "endings": ["a", "", "c", "d"]}), "empty_ending"),
    (json.dumps({**GOOD, "endings": ["a", None, "c", "d"]}), "empty_ending"),
]


def test_every_bad_row_is_counted_with_its_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(GOOD)] + [text for text, _ in BAD_LINES] + ["", json.dumps({**GOOD, "label": "3"})]
    path.write_bytes(b"\n".join(t if isinstance(t, bytes) else t.encode("utf-8") for t in lines) + b"\n")
    data = read_hellaswag(path)
    assert [(i.gold, i.source) for i in data.items] == [(1, f"{path}:1"), (3, f"{path}:{len(lines)}")]
    assert data.items[0].context == GOOD["ctx"] and data.items[0].choices == ("a", "b", "c", "d")
    expected: dict[str, int] = {}
    for _, reason in BAD_LINES:
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(data.skipped) == expected
    # The test covers every reason but the reader's bounds (tests/crisol/formats/test_row_files.py).
    assert set(expected) == set(SKIP_REASONS) - {"too_large", "too_deep"}
    first_line = {reason: 2 + next(i for i, (_, r) in enumerate(BAD_LINES) if r == reason) for reason in expected}
    assert {r: where[0] for r, where in data.where.items()} == {r: f"{path}:{n}" for r, n in first_line.items()}
    summary = data.summary()
    assert summary["kept"] == 2 and summary["rows"] == len(BAD_LINES) + 2 and summary["formats"] == {str(path): "ctx"}


def test_the_original_layout_gets_lm_evals_preprocessing(tmp_path):
    row = {
        "activity_label": "Home and Garden",
        "ctx_a": "[header] How to water a fern [title] Check the soil.",
        "ctx_b": "press a finger",
        "endings": ["into the soil [step] Wet means wait.", " b ", "c", "d"],
        "label": "2",
        "ind": 4,
        "split": "val",
    }
    path = tmp_path / "original.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "ctx_a": " ", "ctx_b": ""}) + "\n")
    data = read_hellaswag(path)
    (item,) = data.items
    # activity_label + ": " + ctx_a + " " + ctx_b.capitalize(), then preprocess: " [title]" -> ". ",
    # [tags] removed, double spaces collapsed, stripped.
    assert item.context == "Home and Garden: How to water a fern. Check the soil. Press a finger"
    assert item.choices == ("into the soil Wet means wait.", "b", "c", "d")
    assert item.gold == 2
    assert dict(data.skipped) == {"empty_context": 1}
    # lm-eval's replace("  ", " ") halves runs of spaces once, so three become two: kept as is.
    assert preprocess("  a [title] b [x]  c ") == "a. b  c"


def test_unusable_input_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**GOOD, "label": 9}) + "\n" + json.dumps({**GOOD, "endings": []}) + "\n")
    with pytest.raises(StageInputError) as error:
        read_hellaswag(bad)
    assert "no usable item in 2 rows" in str(error.value) and "\n" not in str(error.value)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    with pytest.raises(StageInputError, match="cannot tell the format"):
        read_hellaswag(other)
    with pytest.raises(StageInputError, match="input not found"):
        read_hellaswag(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="unknown format"):
        read_hellaswag(bad, file_format="mmlu")


def test_the_shared_sample_gives_500_items(shared_data):
    path = shared_data.joinpath(*HELLASWAG)
    if not path.is_file():
        pytest.skip(f"HellaSwag sample not found at {path}")
    data = read_hellaswag(path)
    assert len(data.items) == 500 and not data.skipped
    assert all(len(i.choices) == 4 and 0 <= i.gold < 4 for i in data.items)
    # Its text is already lm-eval's query and choices: preprocessing changes nothing.
    assert all(preprocess(t) == t for i in data.items for t in (i.context, *i.choices))
    assert data.items[0].context.startswith("Personal Care and Style: How to paint jeans.")


def test_an_item_whose_choice_outgrows_the_context_is_skipped_and_counted():
    from crisol.chat.template import ChatTemplate
    from kit.chat import small_tokenizer
    from kit.evaluate import tiny_model
    from stages.evaluate.hellaswag import Item, score_multiple_choice

    template = ChatTemplate(small_tokenizer())
    model = tiny_model(template.text_tokenizer.get_vocab_size(), 16)
    short = Item("The river runs", ("east.", "west.", "north.", "south."), 1)
    long = Item("The river runs", ("east " * 40, "west.", "north.", "south."), 0)
    records, aggregate = score_multiple_choice(model, template.encode_text, [short, long, short])
    assert aggregate["n"] == 2 and len(records) == 2
    assert aggregate["skipped_choice_longer_than_context"] == 1
