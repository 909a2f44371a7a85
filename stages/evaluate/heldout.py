"""Held-out text: the documents the tokenizer put in its validation split (pretraining never trained
on them), and the completion-choice task built from them.

Completion choice is HellaSwag's question asked of our own world: a passage of a held-out
document, then its true next sentence among sentences drawn from other held-out documents. A
model that read the synthetic web should prefer the sentence that follows; chance is
1 / choices. Items are built from the text alone (seeded), so every model gets the same ones.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from crisol.core.errors import StageInputError
from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import DOCUMENTS
from crisol.formats.tokens import TokenSplit
from stages.evaluate.hellaswag import Item

# A sentence ends at . ! or ? followed by whitespace and an upper-case letter or a digit.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
MIN_SENTENCE_CHARS = 20


@dataclass(frozen=True)
class Document:
    id: str
    text: str


def heldout_documents(validation_tokens: Path, documents: Path, limit: int) -> list[Document]:
    """The first `limit` held-out documents in id order (the tokenizer's validation split)."""
    split = TokenSplit(validation_tokens)
    held_out = {
        doc_id for index in split.shard_indices for doc_id in split.documents(index).column("doc_id").to_pylist()
    }
    if not held_out:
        raise StageInputError(f"{validation_tokens}: the validation split holds no document")
    table = read_parquet(documents, DOCUMENTS).select(["id", "text"]).to_pylist()
    found = sorted(
        (Document(r["id"], r["text"]) for r in table if r["id"] in held_out and r["text"]), key=lambda d: d.id
    )
    if not found:
        raise StageInputError(
            f"{documents}: none of the {len(held_out)} held-out documents is there "
            f"(documents and token split from different runs?)"
        )
    return found[:limit]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def completion_items(documents: list[Document], count: int, choices: int, context_chars: int, seed: int) -> list[Item]:
    """Up to `count` items: a passage (whole sentences, at most context_chars, ending where the
    answer starts) and `choices` candidate next sentences, the true one at a seeded position.
    Distractors come from other documents and are at least MIN_SENTENCE_CHARS long."""
    rng = random.Random(seed)
    per_doc = [(d, sentences(d.text)) for d in documents]
    pool = [(d.id, s) for d, ss in per_doc for s in ss if len(s) >= MIN_SENTENCE_CHARS]
    candidates = []
    for doc, ss in per_doc:
        for i in range(1, len(ss)):
            if len(ss[i]) < MIN_SENTENCE_CHARS:
                continue
            context = _context_before(ss, i, context_chars)
            if context:
                candidates.append((doc, context, ss[i]))
    rng.shuffle(candidates)
    items = []
    for doc, context, true in candidates[:count]:
        others = [s for doc_id, s in pool if doc_id != doc.id and s != true]
        if len(others) < choices - 1:
            break
        options = rng.sample(others, choices - 1)
        gold = rng.randrange(choices)
        options.insert(gold, true)
        items.append(Item(context, tuple(options), gold, f"{doc.id}"))
    return items


def _context_before(ss: list[str], i: int, limit: int) -> str:
    """The sentences just before ss[i], as many whole ones as fit in `limit` characters."""
    kept: list[str] = []
    for sentence in reversed(ss[:i]):
        if sum(len(s) + 1 for s in kept) + len(sentence) > limit:
            break
        kept.insert(0, sentence)
    return " ".join(kept)
