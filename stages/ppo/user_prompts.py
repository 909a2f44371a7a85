"""A user's PPO prompts (source own), split into training and held-out prompts.

Where they come from, first found wins (nothing falls back to the world):
1. prompt files: own.root/prompts/ and ppo.user.inputs (stages/ppo/prompt_formats.py), read as
   every stage reads user rows (crisol/formats/row_files.py: JSONL, .jsonl.gz, JSON, Parquet);
2. without any, the held-out prompts of the user's instruction and preference data: the user rows
   of SFT's examples.parquet and of the reward stage's pairs.parquet whose split is not train
   (validation, test). Neither stage trained on them, so they are prompts PPO can learn on and
   measure on; a prompt in both (an hh conversation in both files) is kept once.

Every prompt is cut to fit the context (prompt_formats.fit) and kept once (its first row); a row
that cannot be used is counted by reason. A prompt is held out when the hash of its conversation
(as written, before any cut: the split does not move with the context size; xxh64 of
ppo.user.split_salt and the messages as sorted-key JSON) falls under ppo.user.heldout_fraction:
the prompt itself decides, so adding files never moves an old prompt, and duplicates (as the
policy reads them) cannot straddle the split. A set of a handful of prompts still gets one on
each side (split_user_prompts).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.core.hashsplit import TRAIN, hash_fraction
from crisol.core.source import DataSource
from crisol.core.subsets import seeded_subset
from crisol.formats.artifacts import read_parquet
from crisol.formats.conversations import PREFERENCE_PAIRS, read_examples
from crisol.formats.row_files import RowError, RowLedger, convert_rows, detected_format
from stages.ppo.params import PPOParams
from stages.ppo.prompt_formats import FORMATS, SKIP_REASONS, Messages, detect, fit, to_prompt, up_to_last_user
from stages.ppo.prompts import Prompt, PromptSets

LABEL = "ppo prompts"  # starts every error message about these inputs
USER = "user"  # the kind of user rows in SFT's examples and the reward pairs
PROMPT_FILES, HELD_OUT = "prompt files", "held-out instructions and preferences"


@dataclass
class UserPrompts(RowLedger):
    reasons: tuple[str, ...] = SKIP_REASONS
    prompts: list[Prompt] = field(default_factory=list)
    origin: str = ""  # "prompt files" or "held-out instructions and preferences"
    shortened: int = 0  # prompts that lost earlier turns to fit
    by_source: Counter = field(default_factory=Counter)  # prompts kept per file, or per stage (sft, reward)
    split_keys: list[str] = field(default_factory=list)  # per prompt: what decides its split
    seen: set[str] = field(default_factory=set)

    def add(self, prompt: Prompt, asked: Messages, location: str, counted_as: str, keep: int) -> None:
        """Keep `prompt` (as cut to fit) unless the same one is already kept. Its split is decided
        by the prompt as the user wrote it (`asked`), whatever the context it was cut to."""
        key = _key(prompt.messages)
        if key in self.seen:
            self.skip("duplicate", location, keep)
            return
        self.seen.add(key)
        self.prompts.append(prompt)
        self.split_keys.append(_key(asked))
        self.by_source[counted_as] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "from": self.origin,
            **super().summary(kept=len(self.prompts)),
            "shortened": self.shortened,
            "by_source": dict(sorted(self.by_source.items())),
        }


def _key(messages: Messages) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)


def detect_format(path: Path) -> str:
    return detected_format(
        path,
        detect,
        LABEL,
        f"keys of {', '.join(FORMATS)}: 'prompt' (a string) or 'messages' (a list of role/content turns)",
    )


def _from_files(files: list[Path], params: PPOParams, template: ChatTemplate, budget: int) -> UserPrompts:
    data = UserPrompts(origin=PROMPT_FILES)

    def prompt_of(row: Any, file_format: str) -> tuple[Messages, tuple[Messages, list[int], bool]]:
        asked = to_prompt(row, file_format)
        return asked, fit(asked, template, budget)

    keep = params.user.examples_per_reason
    for path, number, (asked, (messages, tokens, shortened)) in convert_rows(
        files, "auto", detect_format, prompt_of, data, keep, LABEL, noun="prompt"
    ):
        data.shortened += shortened
        location = f"{path}:{number}"
        data.add(Prompt(f"user:{location}", USER, messages, tokens, source=location), asked, location, str(path), keep)
    return data


def _held_out_rows(params: PPOParams) -> Iterator[tuple[str, str, Messages]]:
    """(stage, its row id, the conversation) of every held-out user row: SFT's examples (ending with
    the answer), then the reward pairs' prompts. An absent file has no rows."""
    examples = params.sft / "examples.parquet"
    if examples.exists():
        for e in read_examples(examples):
            if e.kind == USER and e.split != TRAIN:
                yield "sft", e.id, e.messages
    pairs = params.reward / "pairs.parquet"
    if pairs.exists():
        for row in read_parquet(pairs, PREFERENCE_PAIRS).to_pylist():
            if row["kind"] == USER and row["split"] != TRAIN:
                yield "reward", row["id"], row["prompt"]


def _from_held_out(params: PPOParams, template: ChatTemplate, budget: int) -> UserPrompts:
    data = UserPrompts(origin=HELD_OUT)
    keep = params.user.examples_per_reason
    for stage, row_id, conversation in _held_out_rows(params):
        data.rows += 1
        location = f"{stage}:{row_id}"
        try:
            asked = up_to_last_user(conversation)
            messages, tokens, shortened = fit(asked, template, budget)
        except RowError as exc:
            data.skip(exc.reason, location, keep)
            continue
        data.shortened += shortened
        data.add(Prompt(location, USER, messages, tokens, source=location), asked, location, stage, keep)
    return data


def load_user_prompts(source: DataSource, params: PPOParams, template: ChatTemplate, budget: int) -> UserPrompts:
    """The user's prompts, from prompt files, else from the held-out instruction and preference rows;
    a one-line error when there are none at all."""
    files = [*source.files("prompts"), *params.user.inputs]
    if files:
        return _from_files(files, params, template, budget)
    data = _from_held_out(params, template, budget)
    if data.prompts:
        return data
    source.require("ppo", "prompts", "instructions", "preferences")  # the folder has none of them at all
    raise StageInputError(
        f"ppo: no prompts: {source.root / 'prompts'}/ holds none (JSONL rows with 'prompt' or "
        f"'messages', .jsonl or .jsonl.gz), and {params.sft / 'examples.parquet'} and "
        f"{params.reward / 'pairs.parquet'} hold no held-out user prompt that fits "
        f"({data.rows} rows; skipped {dict(data.skipped)})"
    )


def split_user_prompts(data: UserPrompts, params: PPOParams) -> PromptSets:
    """Training and held-out prompts by the hash of each prompt; each side capped by a seeded choice.

    With few prompts (a micro run over a small sample holds out a handful) the hash may leave a
    side empty; then the prompt of the lowest hash is held out, or the one of the highest trained
    on: still decided by the prompts alone, and both sides exist from two prompts on."""
    u = params.user
    fractions = [hash_fraction(key, u.split_salt) for key in data.split_keys]
    cut = u.heldout_fraction
    if len(fractions) >= 2:  # held out below the cut: at least the lowest, never the highest
        cut = min(max(cut, math.nextafter(min(fractions), 1.0)), max(fractions))
    heldout = [p for p, f in zip(data.prompts, fractions) if f < cut]
    train = [p for p, f in zip(data.prompts, fractions) if f >= cut]
    if not train or not heldout:
        raise StageInputError(
            f"ppo: {len(data.prompts)} user prompt(s) gave {len(train)} training and {len(heldout)} "
            "held-out prompts; both are needed (give more prompts in own.root/prompts/)"
        )
    return PromptSets(
        train=seeded_subset(train, u.max_prompts, params.seed),
        heldout=seeded_subset(heldout, params.heldout_prompts, params.seed),
        summary={**data.summary(), "train_available": len(train), "heldout_available": len(heldout)},
    )
