"""Supervised fine-tuning: instructions generated from the synthetic world's ground truth (split by
entity, with held-out questions for evaluation) and user data in the common formats, rendered in
the one chat template (crisol/chat), trained with the loss on the assistant's tokens only, from
the pretrained model; the best step by validation is kept and exported with its chat template."""
