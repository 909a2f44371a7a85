"""Helpers of the synthetic world the web stage invents (names), shared with the stages that
invent fictional entities of their own (SFT's unknown-entity questions)."""
