"""A validated request turned into what the engine runs: prompt token ids within the model's
context, one Sampling per choice, a ReplyText per choice, and (text completions) the echo and
logprobs the answer carries. Every problem is a RequestProblem: HTTP 400 with OpenAI's body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from crisol.chat.template import CONTENT_PREFIX
from crisol.serve.catalog import ServedModel
from crisol.serve.engine import Sampling, Token
from crisol.serve.protocol import ChatRequest, CompletionRequest
from crisol.serve.scoring import logprobs_block, prompt_logprobs
from crisol.serve.server import Limits
from crisol.serve.text import ReplyText


class RequestProblem(ValueError):
    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


def decoder(served: ServedModel) -> Callable[[list[int]], str]:
    tokenizer = served.template.text_tokenizer
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=False)


def check_ids(ids: list[int], served: ServedModel, param: str) -> None:
    vocab = served.model.config.vocab_size
    if any(not 0 <= t < vocab for t in ids):
        raise RequestProblem(f"{param}: token ids must lie in 0..{vocab - 1}", param=param)


@dataclass
class PreparedJob:
    served: ServedModel
    distinct_prompts: list[list[int]]
    n: int
    budget: int
    sampling: Sampling
    stop: list[str]
    strip_prefix: str = ""
    echo: list[str] = field(default_factory=list)  # per distinct prompt, when echo
    logprobs: int | None = None
    scored: list[tuple[list, list]] = field(default_factory=list)  # per distinct prompt, when echo + logprobs

    @property
    def prompts(self) -> list[list[int]]:
        return [p for p in self.distinct_prompts for _ in range(self.n)]

    @property
    def samplings(self) -> list[Sampling]:
        """Choice j of a seeded request draws from seed + j: n different answers, each repeatable."""
        seed = self.sampling.seed
        return [
            Sampling(**{**self.sampling.__dict__, "seed": None if seed is None else seed + j})
            for _ in self.distinct_prompts
            for j in range(self.n)
        ]

    def texts(self) -> list[ReplyText]:
        decode = decoder(self.served)
        return [ReplyText(decode, self.stop, self.strip_prefix) for _ in range(len(self.distinct_prompts) * self.n)]

    def echo_text(self, choice: int) -> str:
        return self.echo[choice // self.n] if self.echo else ""

    def logprobs_for(self, choice: int, tokens: list[Token]) -> dict:
        decode = decoder(self.served)
        prompt = self.distinct_prompts[choice // self.n]
        ids, lps, tops = [], [], []
        if self.echo:
            prompt_lps, prompt_tops = self.scored[choice // self.n]
            ids, lps, tops = list(prompt), list(prompt_lps), list(prompt_tops)
        ids += [t.id for t in tokens]
        lps += [t.logprob for t in tokens]
        tops += [dict(t.top) for t in tokens]
        return logprobs_block(decode, ids, lps, tops)


def _budget(served: ServedModel, prompt_len: int, asked: int | None, limits: Limits, param: str) -> int:
    context = served.context
    if asked is not None and asked > limits.max_tokens:
        raise RequestProblem(f"{param}: at most {limits.max_tokens} on this server, got {asked}", param=param)
    if prompt_len >= context and asked != 0:
        raise RequestProblem(
            f"This model's maximum context length is {context} tokens; the prompt has {prompt_len} "
            f"and leaves no room for a reply",
            param="messages",
            code="context_length_exceeded",
        )
    if asked is not None and prompt_len + asked > context:
        raise RequestProblem(
            f"This model's maximum context length is {context} tokens; you requested "
            f"{prompt_len + asked} ({prompt_len} in the prompt, {asked} to generate)",
            param=param,
            code="context_length_exceeded",
        )
    return asked if asked is not None else min(limits.max_tokens, context - prompt_len)


def _check_n(n: int, prompts: int, limits: Limits) -> None:
    if n > limits.max_n:
        raise RequestProblem(f"n: at most {limits.max_n} on this server, got {n}", param="n")
    if prompts > limits.max_prompts:
        raise RequestProblem(f"prompt: at most {limits.max_prompts} prompts per request, got {prompts}", param="prompt")


# Sampling divides float32 logits by the temperature and compares float32 probabilities with top_p:
# a temperature near 0 overflows the logits to inf, a top_p under float32's range rounds to 0, and
# either makes the probabilities NaN (a 500). The floors change nothing that float32 can tell: at
# 1e-8 only logits within ~1e-6 of the best (float32 rounding) keep any weight, so greedy it is;
# any top_p under 1/vocab keeps only the most likely token, as 1e-9 does.
MIN_TEMPERATURE, MIN_TOP_P = 1e-8, 1e-9


def _sampling(request, budget: int, stop_ids, logprobs: int | None = None) -> Sampling:
    temperature = request.temperature if request.temperature >= MIN_TEMPERATURE else 0.0
    return Sampling(
        max_tokens=budget,
        temperature=temperature,
        top_p=max(request.top_p, MIN_TOP_P),
        stop_ids=frozenset(stop_ids),
        seed=request.seed,
        logprobs=logprobs,
    )


def chat_job(served: ServedModel, request: ChatRequest, limits: Limits) -> PreparedJob:
    _check_n(request.n, 1, limits)
    messages = [{"role": m.role, "content": m.text} for m in request.messages]
    prompt = served.template.generation_prompt(messages)
    budget = _budget(
        served,
        len(prompt),
        request.token_budget,
        limits,
        "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens",
    )
    return PreparedJob(
        served,
        [prompt],
        request.n,
        budget,
        _sampling(request, budget, served.template.stop_ids),
        request.stop_strings,
        strip_prefix=CONTENT_PREFIX,
    )


def _prompt_ids(served: ServedModel, prompt) -> tuple[list[list[int]], list[str]]:
    """The prompts as token ids and as text (what echo returns)."""
    decode = decoder(served)
    if isinstance(prompt, str):
        prompt = [prompt]
    if prompt and all(isinstance(p, int) for p in prompt):
        prompt = [prompt]
    if not prompt:
        raise RequestProblem("prompt: empty", param="prompt")
    ids, texts = [], []
    for item in prompt:
        if isinstance(item, str):
            ids.append(served.template.encode_text(item))
            texts.append(item)
        else:
            check_ids(item, served, "prompt")
            ids.append(list(item))
            texts.append(decode(list(item)))
        if not ids[-1]:
            raise RequestProblem("prompt: an empty prompt has nothing to continue", param="prompt")
    return ids, texts


def completion_job(served: ServedModel, request: CompletionRequest, limits: Limits) -> PreparedJob:
    prompts, texts = _prompt_ids(served, request.prompt)
    _check_n(request.n, len(prompts), limits)
    budget = min(_budget(served, len(p), request.token_budget, limits, "max_tokens") for p in prompts)
    stop_ids = served.template.stop_ids if served.chat else (served.template.eos_id,)
    return PreparedJob(
        served,
        prompts,
        request.n,
        budget,
        _sampling(request, budget, stop_ids, request.logprobs),
        request.stop_strings,
        echo=texts if request.echo else [],
        logprobs=request.logprobs,
    )


async def score_prompts(slot, job: PreparedJob) -> None:
    """Every distinct prompt's own logprobs (echo), computed on the model's engine thread."""
    if job.logprobs is None:
        return
    model, top = slot.served.model, job.logprobs
    futures = [slot.engine.call(lambda p=p: prompt_logprobs(model, p, top)) for p in job.distinct_prompts]
    job.scored = [await asyncio.wrap_future(f) for f in futures]
