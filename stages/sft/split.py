"""The split by entity: which subjects are held out for evaluation, which are for validation, which
are kept for RLHF, and which split an example goes to given the entities it names.

RL: entities SFT never trains on, whose questions are the reward model's and PPO's prompts. The
held-out questions are about entities SFT never saw; RLHF can only learn what to do there
(answer when the model knows, "I don't know" when it does not) on prompts that are unfamiliar
in the same way, which SFT's own training questions are not.

An entity's split is decided by its own id (xxh64 of salt and id, as the tokenizer splits
documents), so it does not depend on the rest of the world. An example goes to the most
restricted split among the entities whose full names it mentions anywhere (question, passage or
answer): any held-out name keeps it out of SFT altogether, any validation name puts it in
validation. Names are matched as whole words ("Osk" is not in "Oskar").
"""

from __future__ import annotations

import re
from typing import Iterable

from crisol.core.hashsplit import RL, TEST, TRAIN, VALIDATION, hash_fraction


def entity_split(
    entity_id: str, salt: str, heldout_fraction: float, validation_fraction: float, rl_fraction: float = 0.0
) -> str:
    """TEST for the lowest band of the hash, VALIDATION for the next one, RL for the next, else TRAIN."""
    u = hash_fraction(entity_id, salt)
    if u < heldout_fraction:
        return TEST
    if u < heldout_fraction + validation_fraction:
        return VALIDATION
    if u < heldout_fraction + validation_fraction + rl_fraction:
        return RL
    return TRAIN


class MentionRouter:
    """Finds the restricted (test or validation) entities an example names, in one regex pass."""

    def __init__(self, restricted: dict[str, str]):
        """`restricted`: full name -> TEST, VALIDATION or RL."""
        self.restricted = dict(restricted)
        names = sorted(self.restricted, key=len, reverse=True)  # longest first: "Osk Mills" before "Osk"
        pattern = "|".join(re.escape(n) for n in names)
        self._regex = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)") if names else None

    def mentioned(self, texts: Iterable[str]) -> set[str]:
        if self._regex is None:
            return set()
        return {m.group(0) for text in texts for m in self._regex.finditer(text)}

    def route(self, texts: Iterable[str]) -> str:
        """The most restricted split among the names mentioned: TEST, then VALIDATION, then RL."""
        splits = {self.restricted[name] for name in self.mentioned(texts)}
        return next((s for s in (TEST, VALIDATION, RL) if s in splits), TRAIN)
