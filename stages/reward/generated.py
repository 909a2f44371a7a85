"""Preference pairs generated from the SFT model's own samples, labelled by the gold oracle.

For each training prompt (a short-answer question from SFT's examples: facts, invented entities,
comparisons, counts), the SFT model samples `samples_per_prompt` replies at `temperature`; the
oracle (crisol/grading/oracle.py) scores each; every two distinct replies with different scores
make a pair, the better one chosen (at most `pairs_per_prompt` per prompt). "I don't know." can
join the candidates (`idk_candidates`): the oracle puts it under a correct answer and above a
wrong one, an order the samples alone rarely show. A prompt's pairs are all in one split (train,
validation or test, by the hash of its id), so held-out accuracy is measured on prompts never seen.

Bradley-Terry label noise (`label_noise` = tau > 0): a pair whose gold scores differ by d keeps
its order with probability sigmoid(d / tau) and is flipped otherwise, as a noisy human labeller
would; tau = 0 labels exactly.

The samples' oracle verdicts are the SFT model's gold score: PPO must raise it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Sequence

from crisol.chat.template import ChatTemplate
from crisol.core.hashsplit import content_split
from crisol.formats.conversations import Example
from crisol.grading.answers import generate_chat_replies
from crisol.grading.oracle import IDK_ANSWER, Judgement, judge
from crisol.model.transformer import Transformer
from stages.reward.preference import Preference


@dataclass(frozen=True)
class Sample:
    example: Example
    reply: str
    judgement: Judgement


@dataclass
class GeneratedPairs:
    pairs: list[Preference]
    samples: list[Sample]
    flipped: int = 0
    prompts_without_pair: int = 0

    def verdicts(self) -> Counter:
        return Counter(s.judgement.verdict for s in self.samples)

    def gold_score(self) -> float:
        return sum(s.judgement.score for s in self.samples) / len(self.samples) if self.samples else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "prompts": len({s.example.id for s in self.samples}),
            "samples": len(self.samples),
            "pairs": len(self.pairs),
            "flipped_by_noise": self.flipped,
            "prompts_without_pair": self.prompts_without_pair,
            "sft_gold_score": round(self.gold_score(), 5),
            "sft_verdicts": dict(self.verdicts()),
        }


def sample_replies(
    model: Transformer,
    template: ChatTemplate,
    examples: Sequence[Example],
    per_prompt: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
) -> list[Sample]:
    """per_prompt sampled replies to each example's question, judged by the oracle."""
    prompts = [template.generation_prompt(e.messages[:-1]) for e in examples for _ in range(per_prompt)]
    was_training = model.training
    model.eval()
    replies = generate_chat_replies(model, template, prompts, max_new_tokens, temperature=temperature, seed=seed)
    model.train(was_training)
    samples = []
    for i, reply in enumerate(replies):
        example = examples[i // per_prompt]
        text = template.reply(reply.tokens)
        samples.append(Sample(example, text, judge(text, example.answer, reply.finished)))
    return samples


def idk_candidates(examples: Sequence[Example]) -> list[Sample]:
    """ "I don't know." as one more candidate answer per prompt, judged like a sample."""
    return [Sample(e, IDK_ANSWER, judge(IDK_ANSWER, e.answer)) for e in examples]


def pairs_from_samples(
    samples: Sequence[Sample],
    pairs_per_prompt: int,
    label_noise: float,
    seed: int,
    *,
    extra: Sequence[Sample] = (),
    validation_fraction: float = 0.0,
    test_fraction: float = 0.0,
    split_salt: str = "",
) -> GeneratedPairs:
    """Pairs of each prompt's distinct candidates (its samples and `extra` ones) with different gold
    scores. A prompt's pairs all go to one split, by its id's hash (crisol/core/hashsplit.py).
    The summary's verdicts and gold score are the samples' only: the SFT model's own."""
    rng = random.Random(seed)
    by_prompt: dict[str, list[Sample]] = {}
    for sample in [*samples, *extra]:
        by_prompt.setdefault(sample.example.id, []).append(sample)
    out = GeneratedPairs([], list(samples))
    for prompt_id, group in by_prompt.items():
        distinct: dict[tuple[str, bool], Sample] = {}
        for sample in group:
            distinct.setdefault((sample.reply, sample.judgement.finished), sample)
        candidates = [(a, b) for a, b in combinations(distinct.values(), 2) if a.judgement.score != b.judgement.score]
        if not candidates:
            out.prompts_without_pair += 1
            continue
        rng.shuffle(candidates)
        for n, (a, b) in enumerate(candidates[:pairs_per_prompt]):
            better, worse = (a, b) if a.judgement.score > b.judgement.score else (b, a)
            if label_noise > 0:
                gap = better.judgement.score - worse.judgement.score
                if rng.random() > 1.0 / (1.0 + math.exp(-gap / label_noise)):
                    better, worse = worse, better
                    out.flipped += 1
            example = better.example
            split = content_split(prompt_id, split_salt, validation_fraction, test_fraction)
            out.pairs.append(
                Preference(
                    f"{prompt_id}:{n}",
                    split,
                    example.messages[:-1],
                    better.reply,
                    worse.reply,
                    "generated",
                    example.kind,
                    better.judgement.finished,
                    worse.judgement.finished,
                )
            )
    return out
