"""PPO against the reward model on a KL leash: the SFT model samples responses to prompts, the
reward model scores each whole response, and the policy is pushed towards higher scores by
clipped policy-gradient steps while a per-token KL penalty against the frozen SFT (reference)
model keeps it from drifting into text the reward model was never trained to judge. The value
head learns the per-token returns that GAE turns into advantages. The tensor math lives in
advantages.py (rollout -> rewards -> advantages) and losses.py (what one optimisation step
minimises), following TRL's PPOTrainer, OpenRLHF and Huang et al., "The N+ implementation
details of RLHF with PPO".

`python -m stages.ppo` (stage.py) runs the loop of rollout.py and trainer.py on the world's
questions or, with source own, on a user's prompts (prompt_sets.py, user_prompts.py), where no gold
oracle exists. What it does to the held-out gold score, and why: docs/ppo.md (figures in
docs/results.md).
"""
