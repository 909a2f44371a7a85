"""The reward model: trained on preference pairs (a prompt, a chosen and a rejected answer) to score
the chosen answer above the rejected one, rendered in the one chat template (crisol/chat). Pairs are
generated from the synthetic world's ground truth or given by the user in the common preference
formats (TRL's explicit-prompt pairs, Anthropic hh-rlhf transcripts); with `source: own` only the
user's (own.root/preferences/ and reward.user.inputs). PPO then optimises the SFT model against its
scores.

`python -m stages.reward` (stage.py): pairs from generated.py and user_preferences.py, the model in
crisol/model/reward.py, the Bradley-Terry loop in train.py. Issue 7 is open: on the tiny profile
the held-out accuracy is 67%, short of the 80% the issue asks (README, "reward and ppo").
"""
