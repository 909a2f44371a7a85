"""Our models inside lm-evaluation-harness (optional: lm_eval is not a dependency of crisol).

    from stages.evaluate.lm_eval_adapter import CrisolLM
    lm = CrisolLM(model, "data/tokenizer")          # a Transformer, or a model directory
    lm_eval.simple_evaluate(model=lm, tasks=["hellaswag"])
    # or, once this module is imported (it registers "crisol"):
    #   --model crisol --model_args model=data/pretrain/model,tokenizer=data/tokenizer

Every request goes through our own scoring primitive, so lm-eval's tasks and our evaluate stage
measure the same thing: `loglikelihood` is text_request + loglikelihoods (lm-eval's
_encode_pair and left truncation), `loglikelihood_rolling` is rolling_loglikelihoods (lm-eval's
disjoint windows), `generate_until` is our KV-cache sampler. Text is encoded with special-token
strings kept as text (ChatTemplate.encode_text), as everywhere in this project.

The prefix token, from which an empty context's first token and every document's first token
are predicted, is eos rather than lm-eval's usual bos: pretraining puts an eos after every
document, so text always starts after one; bos only ever opens a chat conversation. Chat
templating through lm-eval (`--apply_chat_template`) is not offered: lm-eval renders a chat as a
string and would have it tokenized with the special-token strings parsed, which our encoding
refuses by design; score chat models with loglikelihood.chat_request instead.

Importing this module without lm_eval installed raises an ImportError that says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

try:
    from lm_eval.api.model import LM
    from lm_eval.api.registry import register_model
except ImportError as exc:  # pragma: no cover - exercised only where lm_eval is absent
    raise ImportError(
        "stages.evaluate.lm_eval_adapter needs lm-evaluation-harness, which crisol does not "
        "depend on: `pip install lm_eval` (checked with 0.4.13) to use it"
    ) from exc

from tokenizers import Tokenizer

from crisol.chat.template import ChatTemplate
from crisol.model.sampling import generate_many
from crisol.model.transformer import Transformer
from crisol.model.weights import load_model
from stages.evaluate.loglikelihood import DEFAULT_BATCH_SIZE, loglikelihoods, rolling_loglikelihoods, text_request

DEFAULT_MAX_GEN_TOKS = 256


def _batch_size(value: int | str | None) -> int:
    # lm-eval passes its --batch_size through, possibly "auto" or "auto:4": we take the default.
    if value is None or (isinstance(value, str) and value.startswith("auto")):
        return DEFAULT_BATCH_SIZE
    return int(value)


@register_model("crisol")
class CrisolLM(LM):
    """lm-eval's LM over a crisol Transformer and its tokenizer."""

    def __init__(
        self,
        model: Transformer | str | Path,
        tokenizer: ChatTemplate | Tokenizer | str | Path,
        batch_size: int | str | None = DEFAULT_BATCH_SIZE,
        device: str | None = None,
        max_gen_toks: int = DEFAULT_MAX_GEN_TOKS,
        **ignored: Any,
    ):
        # `ignored`: what lm-eval's evaluator passes to every model (max_batch_size, ...).
        super().__init__()
        if not isinstance(model, Transformer):
            model = load_model(model, map_location=device or "cpu")
        elif device is not None:
            model = model.to(device)
        if isinstance(tokenizer, ChatTemplate):
            self.template = tokenizer
        elif isinstance(tokenizer, Tokenizer):
            self.template = ChatTemplate(tokenizer)
        else:
            self.template = ChatTemplate.from_file(tokenizer)
        self.model = model
        self.batch_size = _batch_size(batch_size)
        self.max_gen_toks = int(max_gen_toks)
        self._device = model.lm_head.weight.device

    @property
    def prefix_token_id(self) -> int:
        return self.template.eos_id

    @property
    def max_length(self) -> int:
        return self.model.config.max_seq_len

    def tok_encode(self, text: str) -> list[int]:
        return self.template.encode_text(text)

    def tok_decode(self, ids: list[int]) -> str:
        return self.template.text_tokenizer.decode(ids, skip_special_tokens=False)

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        built = []
        for context, continuation in (r.args for r in requests):
            prefix = () if context else (self.prefix_token_id,)
            built.append(text_request(self.tok_encode, context, continuation, prefix=prefix))
        scores = loglikelihoods(self.model, built, batch_size=self.batch_size, pad_id=self.template.pad_id)
        answers = [(s.loglikelihood, s.is_greedy) for s in scores]
        for request, answer in zip(requests, answers):
            self.cache_hook.add_partial("loglikelihood", request.args, answer)
        return answers

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        documents = [self.tok_encode(r.args[0]) for r in requests]
        scores = rolling_loglikelihoods(
            self.model, documents, self.prefix_token_id, batch_size=self.batch_size, pad_id=self.template.pad_id
        )
        answers = [s.loglikelihood for s in scores]
        for request, answer in zip(requests, answers):
            self.cache_hook.add_partial("loglikelihood_rolling", request.args, answer)
        return answers

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy (or sampled, with do_sample) until a stop string or eos / end of turn, requests
        with equal generation settings batched together; each reply cut before its first stop string."""
        out: list[str] = [""] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(i)
        for members in groups.values():
            kwargs = dict(requests[members[0]].args[1] or {})
            until = kwargs.pop("until", None) or []
            until = [until] if isinstance(until, str) else list(until)
            budget = int(kwargs.pop("max_gen_toks", self.max_gen_toks))
            do_sample = bool(kwargs.pop("do_sample", False))
            temperature = float(kwargs.pop("temperature", 1.0 if do_sample else 0.0))
            temperature = temperature if do_sample else 0.0
            prompts = [self.tok_encode(requests[i].args[0]) or [self.prefix_token_id] for i in members]
            replies = generate_many(
                self.model,
                prompts,
                budget,
                batch_size=self.batch_size,
                temperature=temperature,
                top_k=kwargs.get("top_k"),
                top_p=kwargs.get("top_p"),
                stop_ids=self.template.stop_ids,
                pad_id=self.template.pad_id,
            )
            for i, reply in zip(members, replies):
                text = self.tok_decode(reply.tokens)
                for stop in until:
                    if stop:
                        text = text.split(stop, 1)[0]
                out[i] = text
                self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return out
