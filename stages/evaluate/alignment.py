"""Alignment figures of the chat models, on sampled replies to the held-out questions (SFT's test
split: held-out entities and invented ones), the way PPO was trained and measured:

- rm_score: the reward model's (normalised) score of each reply;
- gold_score: the gold oracle's (crisol/grading/oracle.py) score of the same replies;
- kl: KL(model || SFT) per reply, estimated on the model's own samples as the sum over the reply's
  tokens of log p_model - log p_sft at the sampling temperature (0 for the SFT model itself);
- win rate of each model over the SFT model under the gold oracle, prompt by prompt (a tie counts
  one half), and the gold score's gain over SFT's, prompt by prompt (`gold_gain_vs_sft`: its paired
  standard error is what says whether RLHF beat SFT).

Each with its standard error over prompts. One sample per prompt and model, seeded.

With no gold oracle (source: own, a user's prompts: there is no right answer to judge against),
`gold=False`: no gold score, and the win rate is judged by the reward model's score instead
(`win_judge`: "reward model" in the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from crisol.chat.template import ChatTemplate
from crisol.formats.conversations import Example
from crisol.grading.answers import generate_chat_replies
from crisol.grading.oracle import judge
from crisol.grading.text import mean_and_stderr
from crisol.model.reward import Answered, RewardModel, score_sequences
from crisol.model.transformer import Transformer
from stages.evaluate.loglikelihood import Request, loglikelihoods


@dataclass(frozen=True)
class Sampled:
    example: Example
    prompt: list[int]
    tokens: list[int]  # the reply's tokens, its end-of-turn included when it finished
    reply: str
    finished: bool
    gold: float | None  # None: no gold oracle
    rm_score: float
    kl: float


def sample_and_score(
    model: Transformer,
    reference: Transformer,
    reward_model: RewardModel,
    template: ChatTemplate,
    questions: Sequence[Example],
    *,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    batch_size: int,
    gold: bool = True,
) -> list[Sampled]:
    prompts = [template.generation_prompt(e.messages[:-1]) for e in questions]
    model.eval()
    replies = generate_chat_replies(model, template, prompts, max_new_tokens, temperature=temperature, seed=seed)
    tokens = [[*r.tokens, template.end_id] if r.finished else list(r.tokens) for r in replies]
    requests = [Request(p, t) for p, t in zip(prompts, tokens)]
    own = loglikelihoods(model, requests, batch_size=batch_size, pad_id=template.pad_id, temperature=temperature)
    ref = (
        own
        if reference is model
        else loglikelihoods(reference, requests, batch_size=batch_size, pad_id=template.pad_id, temperature=temperature)
    )
    device = reward_model.head.weight.device
    rm = score_sequences(
        reward_model,
        [Answered(p + t, len(p)) for p, t in zip(prompts, tokens)],
        template.pad_id,
        device,
        normalised=True,
    )
    out = []
    for e, p, t, r, a, b, s in zip(questions, prompts, tokens, replies, own, ref, rm.tolist()):
        text = template.reply(r.tokens)
        score = judge(text, e.answer, r.finished).score if gold else None
        out.append(Sampled(e, p, t, text, r.finished, score, s, a.loglikelihood - b.loglikelihood))
    return out


def _mean(values: Sequence[float]) -> tuple[float, float]:
    return mean_and_stderr(list(values))


def figures(sampled: Sequence[Sampled], baseline: Sequence[Sampled] | None) -> dict[str, Any]:
    """Mean and stderr of rm_score, gold_score (where there is a gold oracle) and kl; the win rate
    over `baseline` (the SFT model's samples of the same prompts, in the same order) when given,
    judged by the gold oracle, or by the reward model where there is none."""
    out: dict[str, Any] = {"n": len(sampled)}
    with_gold = all(s.gold is not None for s in sampled)
    for name in ("rm_score", "gold", "kl") if with_gold else ("rm_score", "kl"):
        mean, err = _mean([getattr(s, name) for s in sampled])
        key = "gold_score" if name == "gold" else name
        out[key], out[f"{key}_stderr"] = mean, err
    if baseline is not None:
        if [s.example.id for s in sampled] != [s.example.id for s in baseline]:
            raise ValueError("win rate: the two sample sets are not of the same prompts in the same order")
        key = "gold" if with_gold and all(s.gold is not None for s in baseline) else "rm_score"
        pairs = [(getattr(a, key), getattr(b, key)) for a, b in zip(sampled, baseline)]
        wins = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs]
        out["win_rate_vs_sft"], out["win_rate_vs_sft_stderr"] = _mean(wins)
        if key == "gold":  # paired over the same prompts: far tighter than the two means' own errors
            out["gold_gain_vs_sft"], out["gold_gain_vs_sft_stderr"] = _mean([a - b for a, b in pairs])
        if key == "rm_score":
            out["win_judge"] = "reward model"
    return out


def records(sampled: Sequence[Sampled]) -> list[dict[str, Any]]:
    return [
        {
            "id": s.example.id,
            "kind": s.example.kind,
            "question": s.example.messages[-2]["content"],
            "gold_answer": s.example.answer,
            "reply": s.reply,
            "finished": s.finished,
            "gold_score": s.gold,
            "rm_score": s.rm_score,
            "kl": s.kl,
        }
        for s in sampled
    ]
