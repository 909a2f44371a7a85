"""SFT batches: the loss mask covers exactly the assistant's tokens, and packed rows train exactly as
their conversations would alone (same logits, same per-token losses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example, qa
from crisol.model.config import ModelConfig
from crisol.model.transformer import IGNORE_INDEX, Transformer
from kit.chat import small_tokenizer
from stages.sft.batches import collate, epoch_batches, evaluation_batches, pack, to_sequence, to_sequences

CONVERSATION = [
    {"role": "system", "content": "You answer questions about Aldoria."},
    {"role": "user", "content": "Where was Maren Okafor born?"},
    {"role": "assistant", "content": "Ravel"},
    {"role": "user", "content": "And when?"},
    {"role": "assistant", "content": "In 1931, they say."},
]


@pytest.fixture(scope="module")
def template() -> ChatTemplate:
    return ChatTemplate(small_tokenizer())


def test_targets_are_exactly_the_assistant_tokens_and_their_end(template):
    rendered = template.render(CONVERSATION)
    sequence = to_sequence(rendered.ids, rendered.mask)
    # Independently: where each assistant reply sits in the ids, found by encoding it alone.
    expected: list[int] = []
    at = 0
    for message in CONVERSATION:
        content = template.encode_content(message["content"])
        opener = rendered.ids.index(template.role_ids[message["role"]], at)
        start = opener + 1
        assert rendered.ids[start : start + len(content)] == content
        assert rendered.ids[start + len(content)] == template.end_id
        if message["role"] == "assistant":
            expected.extend(range(start, start + len(content) + 1))  # content + its <|end|>
        at = start + len(content) + 1
    # target t predicts token t + 1: the trained targets are the tokens at `expected`
    trained = [t + 1 for t in np.flatnonzero(sequence.targets != IGNORE_INDEX)]
    assert trained == expected
    assert [int(sequence.targets[t - 1]) for t in expected] == [rendered.ids[t] for t in expected]
    assert sequence.trained_tokens == sum(
        len(template.encode_content(m["content"])) + 1 for m in CONVERSATION if m["role"] == "assistant"
    )
    # the system and user turns, role tokens and the assistant opener are never targets
    never = {template.bos_id, *template.role_ids.values()}
    assert not never & set(int(t) for t in sequence.targets[sequence.targets != IGNORE_INDEX])


def test_inputs_are_the_rendered_ids_but_the_last(template):
    rendered = template.render(CONVERSATION)
    sequence = to_sequence(rendered.ids, rendered.mask)
    assert sequence.inputs.tolist() == rendered.ids[:-1]


def _examples(n: int) -> list[Example]:
    return [
        qa(f"q{i}", "fact", "train", f"Question number {i} about {'x ' * (i % 7)}?", f"answer {i}") for i in range(n)
    ]


def test_pack_keeps_order_and_capacity(template):
    sequences = to_sequences(_examples(30), template)
    rows = pack(sequences, 120)
    assert [s for row in rows for s in row] == sequences
    assert all(sum(len(s) for s in row) <= 120 for row in rows)
    assert len(rows) < len(sequences)
    with pytest.raises(ValueError, match="does not fit"):
        pack(sequences, 3)


def test_a_packed_row_trains_like_its_conversations_alone(template):
    torch.manual_seed(0)
    vocab = template.text_tokenizer.get_vocab_size()
    model = Transformer(ModelConfig.from_depth(2, vocab, 64, d_model=32)).eval()
    sequences = to_sequences(_examples(4), template)
    packed = collate([sequences], template.pad_id, packed=True)
    assert packed.segments is not None and packed.positions is not None
    logits, _ = model(packed.ids, positions=packed.positions, segments=packed.segments)
    at = 0
    for sequence in sequences:
        alone, _ = model(torch.from_numpy(sequence.inputs)[None])
        torch.testing.assert_close(logits[0, at : at + len(sequence)], alone[0], atol=1e-5, rtol=1e-5)
        at += len(sequence)
    # the mean loss of the packed row is the token-weighted mean of the conversations' losses
    packed_loss = F.cross_entropy(logits[0], packed.targets[0], ignore_index=IGNORE_INDEX, reduction="sum")
    single = collate([[s] for s in sequences], template.pad_id, packed=False)
    padded_logits, _ = model(single.ids)
    padded_loss = F.cross_entropy(
        padded_logits.flatten(0, 1), single.targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    torch.testing.assert_close(packed_loss, padded_loss, atol=1e-4, rtol=1e-5)


def test_padding_is_never_a_target(template):
    batch = collate([[s] for s in to_sequences(_examples(5), template)], template.pad_id, packed=False)
    pads = batch.ids == template.pad_id
    assert pads.any()
    assert (batch.targets[pads] == IGNORE_INDEX).all()


def test_an_epoch_covers_every_sequence_once(template):
    sequences = to_sequences(_examples(37), template)
    for packing in (False, True):
        batches = epoch_batches(
            sequences, 8, template.pad_id, packing=packing, capacity=64, rng=np.random.default_rng(0)
        )
        assert sum(b.trained_tokens for b in batches) == sum(s.trained_tokens for s in sequences)
    assert sum(b.trained_tokens for b in evaluation_batches(sequences, 8, template.pad_id)) == sum(
        s.trained_tokens for s in sequences
    )
