"""Which documents are encoded, and into which split.

The split is decided by a document's own id (a salted 64-bit hash against the validation
fraction), never by its position or by the other documents, so a new crawl that adds documents
leaves every old document in the split it was in.
"""

from __future__ import annotations

from typing import Sequence

import xxhash

SKIP_EMPTY = "empty_text"
SKIP_ONLY_SPECIAL = "only_special_tokens"
_SCALE = float(1 << 64)


def is_validation(doc_id: str, fraction: float, salt: str) -> bool:
    return xxhash.xxh64_intdigest(f"{salt}\x00{doc_id}".encode()) / _SCALE < fraction


def skip_reason(text: str | None, specials: Sequence[str]) -> str | None:
    """Why a document is not encoded, or None. A text made only of special-token strings (and
    whitespace) is markup leaking from a chat dump or an injection attempt, not language."""
    if text is None or not text.strip():
        return SKIP_EMPTY
    if any(s in text for s in specials):
        rest = text
        for special in specials:
            rest = rest.replace(special, "")
        if not rest.strip():
            return SKIP_ONLY_SPECIAL
    return None
