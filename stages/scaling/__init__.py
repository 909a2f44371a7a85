"""The scaling stage: an IsoFLOP sweep of pretraining runs, the Chinchilla loss law fitted to it,
and the model size it implies for a compute budget (python -m stages.scaling)."""
