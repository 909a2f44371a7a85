"""Evaluation: every model the pipeline made, scored through one primitive (the log-likelihood of
a continuation given a context, stages/evaluate/loglikelihood.py) and lm-evaluation-harness's
formulas (metrics.py), on HellaSwag-format multiple choice (hellaswag.py) and held-out text
(rolling perplexity), written in lm-eval's results shape (results.py). lm_eval_adapter.py lets
lm-eval itself drive our models when it is installed (it is not a dependency)."""
