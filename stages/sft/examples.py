"""The length check SFT applies to its examples (the examples themselves are
crisol/formats/conversations.py: later stages read them too)."""

from __future__ import annotations

from typing import Iterable

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example


def within_length(examples: Iterable[Example], template: ChatTemplate, max_tokens: int) -> tuple[list[Example], int]:
    """The examples whose rendered conversation fits in max_tokens, and how many did not."""
    kept, over = [], 0
    for example in examples:
        if len(template.render(example.messages)) <= max_tokens:
            kept.append(example)
        else:
            over += 1
    return kept, over
