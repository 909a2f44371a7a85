"""Where a PPO step's time goes (generation, scoring, training), and rollout tokens/s with the KV
cache against without it, on CPU with tiny-profile shapes.

    .venv/bin/python benchmarks/bench_ppo.py [--rounds 3] [--batch 32] [--new-tokens 24] [--depth 4] [--d-model 128]

Models are random (the timing does not depend on the weights; sampling at temperature 1 from a
random model rarely stops early, so every reply runs the full budget, the worst case).
- generation: `generate` with the KV cache, the rollout's sampling;
- scoring: the rest of `rollout` (policy and reference log-probs, values, reward-model score);
- training: the rest of `PPOTrainer.step` (GAE, ppo_epochs of minibatch updates).
Baseline for the cache: the same sampling with `use_cache=False` (every step recomputes the whole
sequence), alternated with the cached run each round; the figures are the median round's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from crisol.chat.template import ChatTemplate
from crisol.model.config import ModelConfig
from crisol.model.reward import RewardModel
from crisol.model.sampling import generate
from crisol.model.transformer import Transformer
from stages.ppo.advantages import FixedKLController
from stages.ppo.rollout import rollout
from stages.ppo.trainer import PPOSettings, PPOTrainer, value_model_from
from stages.tokenizer.bpe import fit
from stages.tokenizer.params import TokenizerParams


def small_template() -> ChatTemplate:
    """A tokenizer with the chat tokens (a BPE fitted on a sentence): the models' vocabulary size."""
    return ChatTemplate(fit(["the quick brown fox jumps over the lazy dog"] * 50, TokenizerParams(vocab_size=300)))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=20)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=128)
    return parser.parse_args()


def _trainer(config: ModelConfig, template: ChatTemplate, new_tokens: int) -> PPOTrainer:
    """Random policy (the reference a copy of it), reward and value models, in that order of draws."""
    policy, reference = Transformer(config).eval(), Transformer(config).eval()
    reference.load_state_dict(policy.state_dict())
    reward_model = RewardModel(Transformer(config)).eval()
    return PPOTrainer(
        policy,
        reference,
        reward_model,
        value_model_from(reward_model),
        template,
        PPOSettings(max_new_tokens=new_tokens, temperature=1.0),
        FixedKLController(0.05),
    )


def _round(
    trainer: PPOTrainer, prompts: list[list[int]], new_tokens: int, seed: int
) -> tuple[int, float, float, float, float]:
    """One round: (reply tokens, seconds of generation with the cache, without it, a whole rollout,
    a whole step)."""
    tick = time.perf_counter()
    replies = generate(trainer.policy, prompts, new_tokens, temperature=1.0, seed=seed)
    generation = time.perf_counter() - tick
    tick = time.perf_counter()
    generate(trainer.policy, prompts, new_tokens, temperature=1.0, seed=seed, use_cache=False)
    uncached = time.perf_counter() - tick
    tick = time.perf_counter()
    rollout(
        trainer.policy,
        trainer.reference,
        trainer.reward_model,
        trainer.value_model,
        prompts,
        trainer.template,
        max_new_tokens=new_tokens,
        temperature=1.0,
        missing_eos_penalty=1.0,
        seed=seed,
    )
    full_rollout = time.perf_counter() - tick
    tick = time.perf_counter()
    trainer.step(prompts, seed=seed)
    step = time.perf_counter() - tick
    return sum(len(r) for r in replies), generation, uncached, full_rollout, step


def main() -> None:
    args = _parse_args()
    template = small_template()
    vocab = template.text_tokenizer.get_vocab_size()
    torch.manual_seed(0)
    config = ModelConfig.from_depth(args.depth, vocab, 128, d_model=args.d_model)
    trainer = _trainer(config, template, args.new_tokens)
    prompts = [torch.randint(11, vocab, (args.prompt_tokens,)).tolist() for _ in range(args.batch)]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.batch} prompts x "
        f"{args.prompt_tokens} tokens, {args.new_tokens} new tokens, {config.num_params():,} parameters per model"
    )
    figures: dict[str, list[float]] = {
        "generation": [],
        "scoring": [],
        "training": [],
        "cached tok/s": [],
        "uncached tok/s": [],
    }
    for round_index in range(args.rounds):
        tokens, generation, uncached, full_rollout, step = _round(trainer, prompts, args.new_tokens, 1000 + round_index)
        figures["generation"].append(generation)
        figures["scoring"].append(max(full_rollout - generation, 0.0))
        figures["training"].append(max(step - full_rollout, 0.0))
        figures["cached tok/s"].append(tokens / generation)
        figures["uncached tok/s"].append(tokens / uncached)
        print(
            f"round {round_index + 1}: step {step:.2f} s = generation {generation:.2f} + scoring "
            f"{full_rollout - generation:.2f} + training {step - full_rollout:.2f}; rollout {tokens / generation:,.0f} "
            f"tok/s cached, {tokens / uncached:,.0f} uncached"
        )
    median = {k: statistics.median(v) for k, v in figures.items()}
    total = median["generation"] + median["scoring"] + median["training"]
    print(
        f"step split: generation {100 * median['generation'] / total:.0f}%, scoring "
        f"{100 * median['scoring'] / total:.0f}%, training {100 * median['training'] / total:.0f}%"
    )
    print(
        f"rollout tokens/s, KV cache vs none: {median['cached tok/s']:,.0f} vs {median['uncached tok/s']:,.0f} = "
        f"{median['cached tok/s'] / median['uncached tok/s']:.2f}x"
    )


if __name__ == "__main__":
    main()
