"""The SFT rehearsal PPO mixes in: only the assistant's tokens are targets, conversations longer
than the model's positions are left out and counted, and a seed gives the same rows."""

from __future__ import annotations

import torch

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example
from crisol.model.transformer import IGNORE_INDEX
from crisol.training.conversation_mix import ConversationMix, conversation_sequences
from kit.chat import small_tokenizer


def _example(i: int, answer: str) -> Example:
    messages = [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": answer}]
    return Example(id=f"q{i}", kind="fact", split="train", messages=messages, answer=answer)


def test_targets_are_the_assistant_tokens_and_long_conversations_are_counted():
    template = ChatTemplate(small_tokenizer())
    short, long = _example(0, "Paris"), _example(1, "word " * 200)
    sequences, over = conversation_sequences([short, long], template, max_tokens=64)
    assert over == 1 and len(sequences) == 1
    inputs, targets = sequences[0]
    rendered = template.render(short.messages)
    assert len(inputs) == len(rendered.ids) - 1
    trained = [t for t in targets.tolist() if t != IGNORE_INDEX]
    assert template.text_tokenizer.decode(trained[:-1]).strip() == "Paris" and trained[-1] == template.end_id


def test_a_seed_draws_the_same_padded_rows():
    template = ChatTemplate(small_tokenizer())
    sequences, _ = conversation_sequences([_example(i, "yes " * (i + 1)) for i in range(5)], template, 64)
    batches = []
    for _ in range(2):
        mix = ConversationMix(sequences, rows=3, weight=1.0, pad_id=template.pad_id, seed=7)
        batches.append([mix.next_batch(torch.device("cpu")) for _ in range(2)])
    for (a_in, a_t), (b_in, b_t) in zip(*batches):
        assert torch.equal(a_in, b_in) and torch.equal(a_t, b_t)
    inputs, targets = batches[0][0]
    assert inputs.shape == targets.shape and inputs.shape[0] == 3
    assert ((targets == IGNORE_INDEX) | (inputs != template.pad_id)).all()  # pad slots are never targets
