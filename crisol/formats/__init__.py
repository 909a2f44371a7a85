"""The artifacts stages exchange and read: Arrow schemas (bump a version on any incompatible
change), document and token shards, row files of a user's data, conversations, the tokenizer file."""
