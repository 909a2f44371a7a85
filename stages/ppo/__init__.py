"""PPO against the reward model on a KL leash: the SFT model samples responses to prompts, the
reward model scores each whole response, and the policy is pushed towards higher scores by
clipped policy-gradient steps while a per-token KL penalty against the frozen SFT (reference)
model keeps it from drifting into text the reward model was never trained to judge. The value
head learns the per-token returns that GAE turns into advantages. The tensor math lives in
advantages.py (rollout -> rewards -> advantages) and losses.py (what one optimisation step
minimises), following TRL's PPOTrainer, OpenRLHF and Huang et al., "The N+ implementation
details of RLHF with PPO".

Issue 7 in progress: the tensor math exists and is tested; the rollout loop, the stage entry
point and its DVC stage come next.
"""
