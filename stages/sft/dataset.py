"""Everything SFT trains and evaluates on, in one call: generated examples and user data, checked
against the template's length cap, with a summary for metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from stages.chat.template import ChatTemplate
from stages.common.conversations import Example
from stages.sft.examples import within_length
from stages.sft.generated import generate_from_files
from stages.sft.params import SftDataParams
from stages.sft.user_data import load_user_data


@dataclass
class SftData:
    examples: list[Example]             # train, validation and test (held-out questions) together
    summary: dict[str, Any]

    def split(self, name: str) -> list[Example]:
        return [e for e in self.examples if e.split == name]


def build_sft_data(params: SftDataParams, template: ChatTemplate) -> SftData:
    generated = generate_from_files(params.facts, params.pages, params.generated)
    kept, over_length = within_length(generated.examples, template, params.max_tokens)
    user = load_user_data(params.user, template, params.max_tokens)
    examples = [*kept, *user.examples]
    summary = {
        "generated": {**generated.summary(), "over_length": over_length},
        "user": user.summary(),
        "splits": dict(Counter(e.split for e in examples)),
    }
    return SftData(examples, summary)
