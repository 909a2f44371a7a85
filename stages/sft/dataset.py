"""Everything SFT trains and evaluates on, in one call: generated examples (from the synthetic
world, with `source: synthetic` only) and user data (sft.user.inputs, and with `source: own` the
files under own.root/instructions), checked against the template's length cap, with a summary and
the parts that ran (or why not) for metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisol.chat.template import ChatTemplate
from crisol.core.source import DataSource
from crisol.formats.conversations import Example
from stages.sft.examples import within_length
from stages.sft.generated import generate_from_files
from stages.sft.params import SftDataParams
from stages.sft.split import TEST, TRAIN, VALIDATION
from stages.sft.user_data import load_user_data


@dataclass
class SftData:
    examples: list[Example]  # train, validation and test (held-out questions) together
    summary: dict[str, Any]
    parts: dict[str, dict[str, Any]]  # generated, user: ran or not (why), n

    @property
    def world_questions(self) -> bool:
        """Whether the world's generated questions (short gold answers) are part of the data."""
        return self.parts["generated"]["ran"]

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]


def build_sft_data(params: SftDataParams, template: ChatTemplate, source: DataSource | None = None) -> SftData:
    source = source or DataSource()
    summary: dict[str, Any] = {"generated": None}
    parts: dict[str, dict[str, Any]] = {}
    generated: list[Example] = []
    inputs: list[Path] = list(params.user.inputs)
    if source.has_world:
        made = generate_from_files(params.facts, params.pages, params.generated)
        generated, over_length = within_length(made.examples, template, params.max_tokens)
        summary["generated"] = {**made.summary(), "over_length": over_length}
        parts["generated"] = {"ran": True, "n": len(generated)}
    else:
        # Own data: the world's files are never read, even where they exist.
        parts["generated"] = source.not_run("generated instructions (facts.parquet, pages.parquet)")
        if not inputs:
            source.require("sft", "instructions")
        inputs = [*source.files("instructions"), *inputs]
    user = load_user_data(params.user, template, params.max_tokens, inputs)
    summary["user"] = {**user.summary(), "over_length": user.skipped["over_length"]}
    parts["user"] = (
        {"ran": True, "n": len(user.examples), "files": len(user.formats)}
        if inputs
        else {"ran": False, "why": "no user instruction files (sft.user.inputs is empty)", "n": 0}
    )
    examples = [*generated, *user.examples]
    summary["splits"] = {**dict.fromkeys((TRAIN, VALIDATION, TEST), 0), **Counter(e.split for e in examples)}
    return SftData(examples, summary, parts)
