"""One conversation example (with where it came from), and its Parquet artifact, `sft_examples`.

SFT writes every example it trained, validated and tested on (data/sft/examples.parquet); the
reward, PPO and evaluation stages read their prompts and gold answers from there, so the shape
lives in this library. Generated and user examples share it. Held-out evaluation questions are
examples too (split "test"): the conversation is the question and the gold reply, `answer` the
string exact match compares against (the reply itself, or the answer a reasoned reply ends with:
crisol/grading/text.py's `final_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa

from crisol.formats.artifacts import read_parquet, write_parquet
from crisol.formats.schemas import ArtifactSchema

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])

SFT_EXAMPLES = ArtifactSchema(
    "sft_examples",
    1,
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),  # stable: kind and what it was made from
            pa.field("kind", pa.string(), nullable=False),  # fact|idk|reading|list|count|compare|two_hop|user
            pa.field("split", pa.string(), nullable=False),  # train|validation|test
            pa.field("messages", pa.list_(MESSAGE), nullable=False),
            pa.field("answer", pa.string()),  # the gold answer: the last assistant turn, or its final answer
            pa.field("subject_id", pa.string()),  # the entity asked about, if one
            pa.field("relation", pa.string()),  # the relation asked about, if one
            pa.field("source", pa.string()),  # fact_id, page url, or file:row
        ]
    ),
)

# The reward stage's preference pairs (<reward.out>/pairs.parquet): PPO and evaluation read its
# held-out user pairs and prompts.
PREFERENCE_PAIRS = ArtifactSchema(
    "preference_pairs",
    1,
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("split", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("prompt", pa.list_(MESSAGE), nullable=False),
            pa.field("chosen", pa.string(), nullable=False),
            pa.field("rejected", pa.string(), nullable=False),
            pa.field("chosen_finished", pa.bool_(), nullable=False),
            pa.field("rejected_finished", pa.bool_(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
        ]
    ),
)


@dataclass(frozen=True)
class Example:
    id: str
    kind: str
    split: str
    messages: list[dict[str, str]]
    answer: str
    subject_id: str | None = None
    relation: str | None = None
    source: str | None = None

    def texts(self) -> list[str]:
        return [m["content"] for m in self.messages]

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "split": self.split,
            "messages": self.messages,
            "answer": self.answer,
            "subject_id": self.subject_id,
            "relation": self.relation,
            "source": self.source,
        }


def qa(
    example_id: str, kind: str, split: str, question: str, answer: str, reply: str | None = None, **where: str | None
) -> Example:
    """A one-turn example: the user asks, the assistant replies `reply` (by default the bare answer;
    a reasoned reply must end with "so the answer is <answer>")."""
    return Example(
        example_id,
        kind,
        split,
        [{"role": "user", "content": question}, {"role": "assistant", "content": answer if reply is None else reply}],
        answer,
        **where,
    )


def write_examples(target: Path | str, examples: Iterable[Example], params: dict[str, Any] | None = None) -> int:
    return write_parquet(target, SFT_EXAMPLES, [e.to_row() for e in examples], params)


def read_examples(source: Path | str) -> list[Example]:
    return [Example(**row) for row in read_parquet(source, SFT_EXAMPLES).to_pylist()]
