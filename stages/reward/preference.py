"""One preference pair: a prompt (the conversation before the answer) and two answers, the chosen
one better than the rejected one. Generated pairs and user pairs share this shape.

`*_finished` says whether the answer ended with the end-of-turn token: a truncated sample is
shown to the reward model without it, so "finished beats truncated" is something it can see.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preference:
    id: str
    split: str  # train | validation (picks the step kept) | test (reported)
    prompt: list[dict[str, str]]  # messages, ending with a user turn
    chosen: str
    rejected: str
    source: str  # "generated" (oracle-labelled samples) or file:row
    kind: str  # the SFT example kind of the prompt, or "user"
    chosen_finished: bool = True
    rejected_finished: bool = True
