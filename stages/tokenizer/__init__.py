"""Tokenizer stage: fit a byte-level BPE on the deduplicated documents, split them into train and
validation by a hash of their id, encode both into memory-mapped token shards, and report."""
