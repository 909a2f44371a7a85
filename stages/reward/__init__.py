"""The reward model: trained on preference pairs (a prompt, a chosen and a rejected answer) to score
the chosen answer above the rejected one, rendered in the one chat template (crisol/chat). Pairs are
generated from the synthetic world's ground truth or given by the user in the common preference
formats (TRL's explicit-prompt pairs, Anthropic hh-rlhf transcripts); with `source: own` only the
user's (own.root/preferences/ and reward.user.inputs). PPO then optimises the SFT model against its
scores.

`python -m stages.reward` (stage.py): pairs from generated.py and user_preferences.py, the model in
crisol/model/reward.py, the Bradley-Terry loop in train.py. Where the gold reward is and how
accurate the model is on held-out pairs: docs/reward.md (figures in docs/results.md).
"""
