"""HellaSwag-format multiple choice: reading the items, scoring them with the one primitive.

Two row layouts, detected per file from its first recognisable row:
- `ctx`: {"ctx": "Activity label: context", "endings": [4 str], "label": 0-3 or "0"-"3"}, the
  layout of klosax/hellaswag_text_data (../shared/data/hellaswag/val_500.jsonl). Its text is
  already lm-eval's query and choices (a test checks that lm-eval's preprocessing leaves it
  unchanged), so it is used verbatim: preprocessing it again is not always a no-op (it collapses
  one pair of spaces at a time) and could make it differ from what lm-eval scores.
- `original`: rowanz/hellaswag's and the Hugging Face dataset's {"activity_label", "ctx_a",
  "ctx_b", "endings", "label"}; query and choices are built as lm-eval's hellaswag task builds
  them (tasks/hellaswag/utils.py): query = preprocess(activity_label + ": " + ctx_a + " " +
  ctx_b.capitalize()), choices = preprocess(ending).

Files are JSONL, a JSON array or Parquet (crisol/formats/row_files.py, the rules every stage's user
data follows). A row that cannot be used is skipped and counted under one of SKIP_REASONS with a
few `file:row` locations, never dropped silently; a file with no usable row is a StageInputError.

Scoring is lm-eval's zero-shot HellaSwag: the context is the query, each choice is scored as the
continuation " " + choice (text_request: one tokenization of context + continuation), all
choices of all items in one batched call; acc, acc_norm and acc_bytes as stages/evaluate/metrics.py
defines them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from crisol.formats.row_files import READ_REASONS, RowError, RowLedger, convert_rows, detected_format
from crisol.model.transformer import Transformer
from stages.evaluate.loglikelihood import DEFAULT_BATCH_SIZE, loglikelihoods, text_request
from stages.evaluate.metrics import mc_aggregate, multiple_choice

ENDINGS = 4
DELIMITER = " "  # lm-eval's target_delimiter: between the context and each choice
FORMATS = ("original", "ctx")
SKIP_REASONS = (
    *READ_REASONS,  # bad_json, too_large, too_deep: crisol/formats/row_files.py
    "not_an_object",  # a row that is not a JSON object
    "empty_context",  # no context text (absent, not a string, or only whitespace)
    "wrong_number_of_endings",  # endings absent, not a list, or not 4 of them
    "empty_ending",  # an ending that is not a string or is empty after preprocessing
    "missing_label",  # label absent, null or "" (HellaSwag's unlabelled test split)
    "label_out_of_range",  # a label that is not an integer 0..3
)
_BRACKETS = re.compile(r"\[.*?\]")


def preprocess(text: str) -> str:
    """lm-eval's hellaswag preprocess: WikiHow's bracketed markup out, spacing tidied."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = _BRACKETS.sub("", text)
    return text.replace("  ", " ")


@dataclass(frozen=True)
class Item:
    context: str
    choices: tuple[str, ...]
    gold: int
    source: str = ""  # file:row


def detect(row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    if "activity_label" in row and "ctx_a" in row:
        return "original"
    if "ctx" in row:
        return "ctx"
    return None


def detect_format(path: Path) -> str:
    return detected_format(
        path, detect, "hellaswag", "ctx + endings + label, or activity_label + ctx_a + ctx_b + endings + label"
    )


def _label(row: dict, choices: int) -> int:
    value = row.get("label")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError("missing_label", "no label")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < choices:
        raise RowError("label_out_of_range", f"label {value!r} is not an integer 0..{choices - 1}")
    return value


def _context(row: dict, fmt: str) -> str:
    if fmt == "ctx":
        ctx = row.get("ctx")
        if not isinstance(ctx, str) or not ctx.strip():
            raise RowError("empty_context", "ctx is absent, not a string or blank")
        return ctx
    parts = [row.get(k) for k in ("activity_label", "ctx_a", "ctx_b")]
    if any(not isinstance(p, str) for p in parts):
        raise RowError("empty_context", "activity_label, ctx_a or ctx_b is absent or not a string")
    label, ctx_a, ctx_b = parts
    if not (ctx_a + ctx_b).strip():
        raise RowError("empty_context", "ctx_a and ctx_b are blank")
    return preprocess(label + ": " + ctx_a + " " + ctx_b.capitalize())


def to_item(row: Any, fmt: str) -> Item:
    """One row as an Item, or a RowError naming the reason it cannot be used."""
    if not isinstance(row, dict):
        raise RowError("not_an_object", f"a row is a JSON object, got {type(row).__name__}")
    context = _context(row, fmt)
    endings = row.get("endings")
    if not isinstance(endings, (list, tuple)) or len(endings) != ENDINGS:
        count = len(endings) if isinstance(endings, (list, tuple)) else "no list of"
        raise RowError("wrong_number_of_endings", f"{count} endings, expected {ENDINGS}")
    if any(not isinstance(e, str) for e in endings):
        raise RowError("empty_ending", "an ending is not a string")
    choices = tuple(preprocess(e) if fmt == "original" else e for e in endings)
    if any(not c.strip() for c in choices):
        raise RowError("empty_ending", "an ending is empty")
    return Item(context, choices, _label(row, len(choices)))


@dataclass
class HellaSwag(RowLedger):
    """The usable items, and the rows skipped by reason (`skipped`) with a few locations (`where`)."""

    reasons: tuple[str, ...] = SKIP_REASONS
    items: list[Item] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return super().summary(kept=len(self.items))


def read_hellaswag(inputs: Path | str | Sequence[Path | str], *, file_format: str = "auto", keep: int = 5) -> HellaSwag:
    """Every usable item of every input (a file or a directory of .jsonl/.json/.parquet files).
    file_format: "auto" (per file), "ctx" or "original". keep: locations kept per skip reason.
    Raises StageInputError when an input is missing or unreadable or no row is usable."""
    if file_format != "auto" and file_format not in FORMATS:
        raise ValueError(f"hellaswag: unknown format {file_format!r} (expected auto or one of {', '.join(FORMATS)})")
    paths = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    data = HellaSwag()
    for path, number, item in convert_rows(
        paths, file_format, detect_format, to_item, data, keep, label="hellaswag", noun="item"
    ):
        data.items.append(Item(item.context, item.choices, item.gold, f"{path}:{number}"))
    return data


def score_multiple_choice(
    model: Transformer,
    encode: Callable[[str], list[int]],
    items: Sequence[Item],
    *,
    prefix: Sequence[int] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_id: int = 0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-item records (for a per-sample JSONL) and the aggregate: acc, acc_norm, acc_bytes, each
    with its standard error, n, the random baseline, how many choice requests lost context
    tokens to the model's length limit (`truncated_requests`), and how many items were skipped
    because a choice alone is longer than that limit (`skipped_choice_longer_than_context`).

    encode: text to ids with special-token strings as text (ChatTemplate.encode_text). prefix:
    ids before every context; () is lm-eval's default (no bos), [eos] reads the context as
    pretraining documents start, after an eos.
    """
    requests = [
        text_request(encode, item.context, DELIMITER + choice, prefix=prefix)
        for item in items
        for choice in item.choices
    ]
    # An item with a choice longer than the model's whole context cannot be scored (lm-eval stops
    # there); it is skipped and counted, the rest are scored.
    limit = model.config.max_seq_len
    fits, at = [], 0
    for item in items:
        fits.append(all(len(r.continuation) <= limit for r in requests[at : at + len(item.choices)]))
        at += len(item.choices)
    too_long = fits.count(False)
    if too_long:
        kept_requests, at = [], 0
        for item, ok in zip(items, fits):
            if ok:
                kept_requests += requests[at : at + len(item.choices)]
            at += len(item.choices)
        items, requests = [item for item, ok in zip(items, fits) if ok], kept_requests
    scores = loglikelihoods(model, requests, batch_size=batch_size, pad_id=pad_id)
    records, outcomes, at = [], [], 0
    for number, item in enumerate(items):
        mine = scores[at : at + len(item.choices)]
        at += len(item.choices)
        lls = [s.loglikelihood for s in mine]
        outcome = multiple_choice(lls, item.choices, item.gold)
        outcomes.append(outcome)
        records.append(
            {
                "doc_id": number,
                "source": item.source,
                "context": item.context,
                "choices": list(item.choices),
                "gold": item.gold,
                "lls": lls,
                "is_greedy": [s.is_greedy for s in mine],
                "tokens": [s.tokens for s in mine],
                "pred": outcome.pred,
                "pred_norm": outcome.pred_norm,
                "pred_bytes": outcome.pred_bytes,
                "acc": outcome.acc,
                "acc_norm": outcome.acc_norm,
                "acc_bytes": outcome.acc_bytes,
            }
        )
    aggregate = mc_aggregate(outcomes, [len(item.choices) for item in items])
    aggregate["truncated_requests"] = sum(1 for s in scores if s.truncated)
    aggregate["skipped_choice_longer_than_context"] = too_long
    return records, aggregate
