"""What every training stage (pretrain, sft, reward, ppo) shares: the device, bf16 autocast, AdamW
and the learning-rate schedule."""
