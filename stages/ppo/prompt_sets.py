"""PPO's training and held-out prompts, by data source.

synthetic: SFT's world questions of `ppo.kinds`: training prompts from `ppo.prompt_splits`, held-out
           ones from its validation split (a seeded choice of `heldout_prompts`), each with its gold
           answer for the oracle; a question too long for the context is left out (and counted).
own:       the user's prompts (stages/ppo/user_prompts.py), with no gold answer.

`budget` is what a prompt may take of the context: the model's positions minus max_new_tokens.
"""

from __future__ import annotations

from crisol.chat.template import ChatTemplate
from crisol.core.errors import StageInputError
from crisol.core.hashsplit import VALIDATION
from crisol.core.source import DataSource
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import Example, read_examples
from stages.ppo.params import PPOParams
from stages.ppo.prompts import Prompt, PromptSets
from stages.ppo.user_prompts import load_user_prompts, split_user_prompts


def prompt_sets(source: DataSource, params: PPOParams, template: ChatTemplate, budget: int) -> PromptSets:
    if source.is_own:
        return split_user_prompts(load_user_prompts(source, params, template, budget), params)
    if params.user.inputs:
        raise StageInputError(
            "ppo: ppo.user.inputs are read with source own only (the world's prompts have gold "
            "answers, a user's do not); set source: own, or leave ppo.user.inputs empty"
        )
    return world_prompt_sets(params, template, budget)


def world_prompt_sets(params: PPOParams, template: ChatTemplate, budget: int) -> PromptSets:
    examples = [e for e in read_examples(params.sft / "examples.parquet") if e.kind in params.kinds]
    train = [e for e in examples if e.split in params.prompt_splits]
    heldout = seeded_subset([e for e in examples if e.split == VALIDATION], params.heldout_prompts, params.seed)
    if not train or not heldout:
        raise StageInputError(
            f"ppo: {len(train)} training prompts (splits {params.prompt_splits}) and {len(heldout)} "
            f"held-out prompts of kinds {params.kinds}"
        )

    def prompt(e: Example) -> Prompt:
        """An SFT question: its conversation without the answer, the answer as the oracle's gold."""
        return Prompt(e.id, e.kind, e.messages[:-1], template.generation_prompt(e.messages[:-1]), e.answer, e.source)

    kept = {
        name: [p for p in map(prompt, split) if len(p.tokens) <= budget]
        for name, split in (("train", train), ("heldout", heldout))
    }
    over = {"train": len(train) - len(kept["train"]), "heldout": len(heldout) - len(kept["heldout"])}
    return PromptSets(train=kept["train"], heldout=kept["heldout"], summary={"from": "world", "over_length": over})
