"""User preference data: JSONL, JSON (an array) or Parquet files of preference pairs (TRL's
explicit-prompt rows or Anthropic hh-rlhf transcripts; JSONL and JSON gzip-compressed too),
validated row by row into Preferences (stages/reward/preference.py, the shape generated pairs share).

Files are read as SFT reads its user data (crisol/formats/row_files.py): the format is detected per
file from its first row with a known signature (or given); every row that cannot be used is skipped
and counted by reason (stages/reward/preference_formats.py SKIP_REASONS), with a few `file:row`
locations per reason for the report. Input with no usable row at all is an error: it is a wrong
file or a wrong format, not data to train on.

A prompt + answer longer than `max_tokens` loses the prompt's earliest turns (whole turns, the
system turn kept) until prompt + the longer answer fit, as TRL truncates prompts from the left:
what is judged, the answer to the last user turn, stays whole. A pair that still does not fit is
skipped as over_length. hh-rlhf's multi-turn transcripts often exceed a small model's context.

A pair's split (train, validation: where the step kept is chosen, test: the accuracy reported)
follows the hash of its prompt as given, before truncation: a prompt's pairs never straddle splits,
duplicates stay together and reordering a file moves nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from crisol.chat.template import ChatTemplate
from crisol.core.hashsplit import content_split
from crisol.formats.row_files import RowError, RowLedger, convert_rows, detected_format
from stages.reward.params import UserPreferenceParams
from stages.reward.preference import Preference
from stages.reward.preference_formats import FORMATS, SKIP_REASONS, Pair, answered, detect, to_pair

LABEL = "user preferences"  # starts every error message about these inputs


@dataclass
class UserPreferences(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    pairs: list[Preference] = field(default_factory=list)
    prompts_truncated: int = 0  # kept pairs whose prompt lost its earliest turns to fit

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(kept=len(self.pairs)),
            "prompts_truncated": self.prompts_truncated,
            "splits": dict(Counter(p.split for p in self.pairs)),
        }


def detect_format(path: Path) -> str:
    return detected_format(
        path, detect, LABEL, f"keys of {', '.join(FORMATS)}: prompt+chosen+rejected, or chosen+rejected transcripts"
    )


def left_truncations(prompt: list[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    """Shorter and shorter prompts, each dropping the earliest turns up to its next user turn (a
    leading system turn stays): the last one is the system turn (if any) and the last user turn."""
    head = prompt[:1] if prompt[0]["role"] == "system" else []
    turns = prompt[len(head) :]
    for start in range(1, len(turns)):
        if turns[start]["role"] == "user":
            yield [*head, *turns[start:]]


def load_user_preferences(params: UserPreferenceParams, template: ChatTemplate, max_tokens: int) -> UserPreferences:
    """Every usable row of every input file as a preference pair (kind "user"); the rest counted."""

    def fits(pair: Pair) -> bool:
        # The reward model reads prompt + one answer at a time: the longer answer sets the length.
        return all(template.fits(answered(pair.prompt, answer), max_tokens) for answer in (pair.chosen, pair.rejected))

    def pair_of(row: Any, file_format: str) -> tuple[Pair, Pair]:
        """(the pair as given, the pair as trained on: its prompt cut from the left to fit)."""
        given = to_pair(row, file_format)
        if fits(given):
            return given, given
        for prompt in left_truncations(given.prompt) if params.truncate_prompt else ():
            if fits(fitted := given._replace(prompt=prompt)):
                return given, fitted
        raise RowError(
            "over_length",
            f"more than {max_tokens} tokens"
            + (", even with the prompt cut to its last user turn" if params.truncate_prompt else ""),
        )

    data = UserPreferences()
    for path, number, (given, pair) in convert_rows(
        params.inputs, params.format, detect_format, pair_of, data, params.examples_per_reason, LABEL, noun="pair"
    ):
        data.prompts_truncated += pair is not given
        key = json.dumps(given.prompt, sort_keys=True, ensure_ascii=False)
        split = content_split(key, params.split_salt, params.validation_fraction, params.test_fraction)
        data.pairs.append(
            Preference(
                f"user:{path.name}:{number}",
                split,
                pair.prompt,
                pair.chosen,
                pair.rejected,
                source=f"{path}:{number}",
                kind="user",
            )
        )
    return data
