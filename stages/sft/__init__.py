"""Supervised fine-tuning. For now its data: instructions generated from the synthetic world's
ground truth (split by entity, with held-out questions for evaluation) and user data in the
common formats, both as conversations for the one chat template (stages/chat)."""
