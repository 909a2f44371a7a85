"""The common preference-pair formats, one row at a time, into a prompt (messages) and two answers.

- pairs: TRL's explicit-prompt preference rows {"prompt", "chosen", "rejected"}. The prompt is a
  string (one user turn) or a list of {role, content} messages; each answer is a string or a list
  holding the one assistant message that answers (TRL's conversational variant).
- hh:    Anthropic hh-rlhf rows {"chosen", "rejected"}, each a whole transcript
  "\n\nHuman: ...\n\nAssistant: ...". The prompt is the transcript up to its last
  "\n\nAssistant:", the answer what follows; both transcripts must share the prompt, else the row
  is a prompt_mismatch (a pair about two different conversations teaches nothing about answers).
  Turn texts are stripped: the space after "Human:" and the blank lines are the format's syntax.

The prompt is the conversation before the answer: system (first only), user and assistant turns,
ending with a user turn. Other keys are ignored. A row that cannot become a usable pair raises
RowError with one reason of SKIP_REASONS. TRL's implicit-prompt variant (message lists for chosen
and rejected, no prompt key) is not detected: it is neither format.
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

from crisol.chat.turns import Messages, check_prompt, checked_messages, pair_prompt, text_field
from crisol.formats.row_files import READ_REASONS, RowError

FORMATS = ("pairs", "hh")
SKIP_REASONS = (
    *READ_REASONS,  # bad_json, too_large, too_deep: crisol/formats/row_files.py
    "not_object",  # a row that is not a JSON object
    "missing_field",  # a required field is absent or null (an hh transcript without an Assistant turn)
    "wrong_type",  # a field of the wrong type (an answer list of more than one message, ...)
    "unknown_role",  # a role outside system/user/assistant, or hh text before the first turn
    "empty_prompt",  # no prompt turn, or a user or assistant turn in it that is only whitespace
    "bad_order",  # a system turn after the start, a prompt not ending with a user turn, an
    # answer message that is not the assistant's, an hh transcript ending with Human
    "empty_answer",  # a chosen or rejected answer that is empty or only whitespace
    "identical_answers",  # chosen == rejected (after stripping): nothing to prefer
    "prompt_mismatch",  # hh: the two transcripts differ before their last Assistant turn
    "over_length",  # prompt + the longer answer over max_tokens after templating
)
HH_TURN = re.compile(r"\n\n(Human|Assistant):")
HH_ROLES = {"Human": "user", "Assistant": "assistant"}
HH_ANSWER = "\n\nAssistant:"


class Pair(NamedTuple):
    prompt: Messages
    chosen: str
    rejected: str


def answered(prompt: Messages, answer: str) -> Messages:
    """The conversation the reward model scores: the prompt, then the answer as the assistant's turn."""
    return [*prompt, {"role": "assistant", "content": answer}]


def detect(row: Any) -> str | None:
    """The format whose identifying keys the row has, or None."""
    if not isinstance(row, dict) or "chosen" not in row or "rejected" not in row:
        return None
    if "prompt" in row:
        return "pairs"
    # Without a prompt only a transcript string is hh: lists there are TRL's implicit-prompt variant.
    return "hh" if isinstance(row["chosen"], str) else None


def _pair_answer(row: dict, key: str) -> str:
    value = row.get(key)
    if not isinstance(value, list):
        return text_field(row, key)
    if not value:
        raise RowError("empty_answer", f"{key!r} holds no message")
    if len(value) > 1:
        raise RowError("wrong_type", f"{key!r} holds {len(value)} messages; an answer is one assistant message")
    message = checked_messages(value, key)[0]
    if message["role"] != "assistant":
        raise RowError("bad_order", f"{key}[0] is a {message['role']} turn, not the assistant's answer")
    return message["content"]


def _from_pairs(row: dict) -> Pair:
    return Pair(pair_prompt(row), _pair_answer(row, "chosen"), _pair_answer(row, "rejected"))


def _hh_transcript(row: dict, key: str) -> tuple[Messages, str]:
    text = text_field(row, key)
    if text.startswith(("Human:", "Assistant:")):  # some copies drop the leading blank line
        text = "\n\n" + text
    cut = text.rfind(HH_ANSWER)
    if cut < 0:
        raise RowError("missing_field", f"{key!r} has no {HH_ANSWER!r} turn")
    parts = HH_TURN.split(text[:cut])  # [text before any turn, role, text, role, text, ...]
    if parts[0].strip():
        raise RowError("unknown_role", f"{key!r} has text before its first Human: turn")
    answer = text[cut + len(HH_ANSWER) :]
    if HH_TURN.search(answer):  # only a Human turn can follow the last Assistant one
        raise RowError("bad_order", f"{key!r} does not end with an Assistant turn")
    prompt = [{"role": HH_ROLES[role], "content": content.strip()} for role, content in zip(parts[1::2], parts[2::2])]
    return check_prompt(prompt), answer.strip()


def _from_hh(row: dict) -> Pair:
    prompt, chosen = _hh_transcript(row, "chosen")
    rejected_prompt, rejected = _hh_transcript(row, "rejected")
    if rejected_prompt != prompt:
        raise RowError("prompt_mismatch", "chosen and rejected differ before their last Assistant turn")
    return Pair(prompt, chosen, rejected)


CONVERTERS: dict[str, Callable[[dict], Pair]] = {"pairs": _from_pairs, "hh": _from_hh}


def to_pair(row: Any, fmt: str) -> Pair:
    """The row as a checked preference pair, or RowError."""
    if not isinstance(row, dict):
        raise RowError("not_object", f"a {type(row).__name__}, not an object")
    pair = CONVERTERS[fmt](row)
    for key, answer in (("chosen", pair.chosen), ("rejected", pair.rejected)):
        if not answer.strip():
            raise RowError("empty_answer", f"the {key} answer is empty")
    if pair.chosen.strip() == pair.rejected.strip():
        raise RowError("identical_answers", "chosen and rejected are the same answer")
    return pair
