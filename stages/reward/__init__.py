"""The reward model: trained on preference pairs (a prompt, a chosen and a rejected answer) to score
the chosen answer above the rejected one, rendered in the one chat template (stages/chat). Pairs are
generated from the synthetic world's ground truth or given by the user in the common preference
formats (TRL's explicit-prompt pairs, Anthropic hh-rlhf transcripts); PPO then optimises the SFT
model against its scores.

Issue 7 in progress: the pairs (generated.py, user_preferences.py), the reward model
(stages/model/reward.py) and its Bradley-Terry loop (train.py) exist and are tested; the stage
entry point, its params section and its DVC stage come next.
"""
