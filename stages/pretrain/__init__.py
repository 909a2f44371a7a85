"""The pretrain stage: a Llama-style transformer trained from the token shards (python -m stages.pretrain)."""
