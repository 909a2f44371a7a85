"""Grading replies: text normalisation and matching, and the gold oracle over the synthetic world
that scores a reply as RLHF and evaluation need it."""
