"""What PPO rehearses beside its own objective, each joining every minibatch with a weighted
next-token loss (the trainer logs each as a stat of its own):

- policy/text_loss: pretraining windows (ppo.text_mix_rows; InstructGPT's PPO-ptx);
- policy/sft_loss: SFT's training conversations (ppo.sft_mix_rows);
- policy/anchor_loss: the SFT model's own greedy replies to a seeded choice of PPO's training
  prompts (ppo.anchor_rows), generated once before the first step. Gold-free, so it works on a
  user's prompts as on the world's: it holds the greedy answers PPO has no reason to move.
"""

from __future__ import annotations

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.core.hashsplit import TRAIN
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import read_examples
from crisol.grading.answers import generate_chat_replies
from crisol.model.transformer import Transformer
from crisol.training.conversation_mix import ConversationMix, conversation_sequences, reply_sequence
from crisol.training.text_mix import Rehearsal, text_mix
from stages.ppo.params import PPOParams
from stages.ppo.prompts import Prompt


def rehearsals(
    params: PPOParams, template: ChatTemplate, reference: Transformer, prompts: list[Prompt]
) -> dict[str, Rehearsal]:
    """The rehearsals `params` ask for, by the name of their stat; `prompts` are PPO's training prompts."""
    max_seq_len = reference.config.max_seq_len
    out: dict[str, Rehearsal] = {}
    text = text_mix(params, template.text_tokenizer, max_seq_len - 1, "ppo")
    if text is not None:
        out["policy/text_loss"] = text
    if params.sft_mix_rows > 0:
        examples = [e for e in read_examples(params.sft / "examples.parquet") if e.split == TRAIN]
        sequences, _ = conversation_sequences(examples, template, max_seq_len)
        if not sequences:
            raise StageInputError(
                f"ppo.sft_mix_rows: {params.sft / 'examples.parquet'} has no training conversation of at most "
                f"{max_seq_len} tokens to rehearse (set ppo.sft_mix_rows: 0)"
            )
        out["policy/sft_loss"] = ConversationMix(
            sequences, params.sft_mix_rows, params.sft_mix_weight, template.pad_id, params.seed
        )
    if params.anchor_rows > 0:
        out["policy/anchor_loss"] = _anchor(params, template, reference, prompts)
    return out


def _anchor(
    params: PPOParams, template: ChatTemplate, reference: Transformer, prompts: list[Prompt]
) -> ConversationMix:
    """The reference's greedy replies to a seeded choice of the training prompts, as rehearsal rows."""
    chosen = [p.tokens for p in seeded_subset(prompts, params.anchor_prompts, params.seed)]
    was_training = reference.training
    reference.eval()
    replies = generate_chat_replies(reference, template, chosen, params.max_new_tokens)
    reference.train(was_training)
    sequences = [
        reply_sequence(prompt, reply.tokens, template.end_id if reply.finished else None)
        for prompt, reply in zip(chosen, replies)
    ]
    return ConversationMix(sequences, params.anchor_rows, params.anchor_weight, template.pad_id, params.seed + 1)
