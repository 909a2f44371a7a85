"""The one scoring primitive: log P(continuation | context) under a model, with whether the
continuation is the greedy one, as lm-evaluation-harness's `loglikelihood` defines it.

Everything evaluation reports reduces to it: multiple choice scores each choice as a continuation
of the question, perplexity scores a document as continuations of disjoint windows
(`rolling_requests`), and chat models score an answer after their generation prompt
(`chat_request`). So the core takes token ids, and text goes through one encoding rule
(`text_request`, lm-eval's `_encode_pair`) with special-token strings kept as text.

Batching follows lm-eval's HF model: requests sorted longest first (few pads; a batch that does
not fit in memory fails at once, not at the end), right padding (causal attention never lets a
real token see a pad after it, so no mask is needed), results put back in the caller's order.
Only the continuation's positions go through the lm_head and log-softmax: on a long context
with a short answer that is most of the work saved.

A request longer than the model's context loses tokens from the left of its context, lm-eval's
rule: the model reads the last max_seq_len tokens of context + continuation (minus the final
token, which is only predicted). A continuation longer than the context window cannot be scored
whole, so it is an error, never a silently partial score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from crisol.chat.template import CONTENT_PREFIX, ChatTemplate
from crisol.model.transformer import Transformer

DEFAULT_BATCH_SIZE = 32
# Continuation positions put through the lm_head at once: a batch of rolling windows predicts
# batch x max_seq_len tokens, and float32 logits for all of them (32 x 1,024 x a 32k vocabulary
# = 4 GB, twice with the log-softmax) would dwarf the model; 4,096 rows are 0.5 GB at 32k.
LOGIT_ROWS = 4096


@dataclass(frozen=True)
class Request:
    """Score `continuation` after `context` (token ids). `text`, when the continuation came from
    text, is that text: its characters and UTF-8 bytes are counted with the score."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]
    text: str | None = None

    def __post_init__(self) -> None:
        # Lists, numpy or tensor ids are accepted; stored as tuples of int (hashable, comparable).
        object.__setattr__(self, "context", tuple(int(t) for t in self.context))
        object.__setattr__(self, "continuation", tuple(int(t) for t in self.continuation))


@dataclass(frozen=True)
class Score:
    loglikelihood: float  # sum over the continuation's tokens of log P(token | everything before it)
    is_greedy: bool  # every continuation token is the argmax of its distribution
    tokens: int  # continuation tokens
    chars: int | None  # characters of the request's text (None: no text given)
    bytes: int | None  # its UTF-8 bytes
    truncated: int = 0  # context tokens dropped from the left to fit the model's context


@dataclass(frozen=True)
class RollingScore:
    loglikelihood: float  # sum of log P over every token of the document
    tokens: int


def model_input(request: Request, max_len: int, vocab_size: int | None = None) -> tuple[list[int], int, int]:
    """(input ids, continuation length, context tokens dropped) for one request: the last
    max_len + 1 tokens of context + continuation, minus the last (lm-eval's window)."""
    if not request.continuation:
        raise ValueError("loglikelihood: empty continuation (nothing to score)")
    if not request.context:
        raise ValueError(
            "loglikelihood: empty context; start it with a prefix token (eos for a base model) "
            "so the first continuation token is predicted from something"
        )
    if len(request.continuation) > max_len:
        raise ValueError(
            f"loglikelihood: continuation of {len(request.continuation)} tokens does not fit the "
            f"model's context of {max_len}"
        )
    whole = [*request.context, *request.continuation]
    if vocab_size is not None and (min(whole) < 0 or max(whole) >= vocab_size):
        raise ValueError(f"loglikelihood: a token id outside the vocabulary (0..{vocab_size - 1})")
    dropped = max(0, len(whole) - (max_len + 1))
    return whole[dropped:-1], len(request.continuation), dropped


def _text_counts(text: str | None) -> tuple[int | None, int | None]:
    return (None, None) if text is None else (len(text), len(text.encode("utf-8")))


def _score_batch(
    model: Transformer, batch: Sequence[Request], max_len: int, pad_id: int, device: torch.device, temperature: float
) -> list[Score]:
    inputs = [model_input(r, max_len, model.config.vocab_size) for r in batch]
    width = max(len(ids) for ids, _, _ in inputs)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    rows, positions, targets = [], [], []
    for row, (request, (input_ids, n_cont, _)) in enumerate(zip(batch, inputs)):
        ids[row, : len(input_ids)] = torch.as_tensor(input_ids, dtype=torch.long)
        # The logit at position p predicts token p + 1: the continuation's tokens are predicted
        # from the last n_cont positions of the (unpadded) input.
        first = len(input_ids) - n_cont
        rows += [row] * n_cont
        positions += range(first, len(input_ids))
        targets += request.continuation
    row_index = torch.tensor(rows, device=device)
    hidden = model.hidden_states(ids.to(device))
    picked = hidden[row_index, torch.tensor(positions, device=device)]
    target = torch.tensor(targets, dtype=torch.long, device=device)
    token_ll_parts, missed_parts = [], []
    for rows_hidden, rows_target in zip(picked.split(LOGIT_ROWS), target.split(LOGIT_ROWS)):
        logprobs = torch.log_softmax(model.lm_head(rows_hidden).float() / temperature, dim=-1)
        token_ll_parts.append(logprobs.gather(-1, rows_target[:, None]).squeeze(-1))
        missed_parts.append((logprobs.argmax(dim=-1) != rows_target).long())
    token_ll, missed = torch.cat(token_ll_parts), torch.cat(missed_parts)
    # Sums in float64: a long document adds thousands of per-token terms.
    lls = torch.zeros(len(batch), dtype=torch.float64, device=device).index_add_(0, row_index, token_ll.double())
    misses = torch.zeros(len(batch), dtype=torch.long, device=device).index_add_(0, row_index, missed)
    scores = []
    for request, ll, miss, (_, n_cont, dropped) in zip(batch, lls.tolist(), misses.tolist(), inputs):
        chars, n_bytes = _text_counts(request.text)
        scores.append(Score(float(ll), miss == 0, n_cont, chars, n_bytes, dropped))
    return scores


def loglikelihoods(
    model: Transformer,
    requests: Sequence[Request],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_id: int = 0,
    temperature: float = 1.0,
) -> list[Score]:
    """One Score per request, in the requests' order. No gradients; the model is put in eval mode
    for the call and left as it was found. pad_id: any id in the vocabulary (right pads are
    never seen by a real token). temperature: the logits are divided by it first, so a reply
    sampled at a temperature is scored under the distribution it was drawn from (KL figures);
    1 is lm-eval's plain log-likelihood."""
    if not temperature > 0:
        raise ValueError(f"loglikelihood: temperature must be > 0, got {temperature}")
    if batch_size < 1:
        raise ValueError(f"loglikelihood: batch_size must be >= 1, got {batch_size}")
    if not 0 <= pad_id < model.config.vocab_size:
        raise ValueError(f"loglikelihood: pad_id {pad_id} is outside the vocabulary (0..{model.config.vocab_size - 1})")
    if not requests:
        return []
    max_len = model.config.max_seq_len
    device = model.lm_head.weight.device
    # lm-eval's order: longest first, ties by content, so equal requests sit together.
    order = sorted(
        range(len(requests)),
        key=lambda i: (
            -(len(requests[i].context) + len(requests[i].continuation)),
            requests[i].context + requests[i].continuation,
        ),
    )
    out: list[Score | None] = [None] * len(requests)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for at in range(0, len(order), batch_size):
                chunk = order[at : at + batch_size]
                scored = _score_batch(model, [requests[i] for i in chunk], max_len, pad_id, device, temperature)
                for i, score in zip(chunk, scored):
                    out[i] = score
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]  # every slot was filled


def text_request(
    encode: Callable[[str], list[int]], context: str, continuation: str, *, prefix: Sequence[int] = ()
) -> Request:
    """A request from strings, split as lm-eval's `_encode_pair` splits it.

    Trailing whitespace of the context moves to the front of the continuation (a BPE merges a
    space with the word after it, so " word" is scored as the model would have written it);
    then the continuation's ids are those of encode(context + continuation) after the first
    len(encode(context)) ids, so context and continuation are tokenized as one text is.
    An empty context gives the continuation encoded alone (lm-eval puts its prefix token in
    front); `prefix`, ids put before the context (eos for a base model, whose pretraining
    documents each start after one), must then be given. encode: text to ids with special-token
    strings as plain text, e.g. ChatTemplate.encode_text.
    """
    if context == "":
        return Request(tuple(prefix), tuple(encode(continuation)), continuation)
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = encode(context + continuation)
    context_ids = encode(context)
    return Request((*prefix, *context_ids), tuple(whole[len(context_ids) :]), continuation)


def chat_request(
    template: ChatTemplate, messages: Sequence[Mapping[str, str]], reply: str, *, with_end: bool = False
) -> Request:
    """A chat model's reply scored where it would write it: after the generation prompt, encoded
    as the template encodes an assistant turn (after its one space). with_end also scores the
    end-of-turn token, i.e. "this is the whole answer"."""
    continuation = template.encode_content(reply) + ([template.end_id] if with_end else [])
    return Request(tuple(template.generation_prompt(list(messages))), tuple(continuation), CONTENT_PREFIX + reply)


def rolling_requests(tokens: Sequence[int], prefix_id: int, max_len: int) -> list[Request]:
    """A document's tokens as lm-eval's `loglikelihood_rolling` windows (get_rolling_token_windows
    with context_len 1, made disjoint): every token predicted exactly once, the first from
    `prefix_id` alone, the first window's tokens with what precedes them in the document, each
    later window of max_len predictions with as much of the text before it as fills the context.
    """
    if max_len < 1:
        raise ValueError(f"rolling windows need max_len >= 1, got {max_len}")
    tokens = tuple(int(t) for t in tokens)
    if not tokens:
        return []
    first = min(max_len, len(tokens))
    requests = [Request((prefix_id,), tokens[:first])]
    done = first
    while done < len(tokens):
        size = min(len(tokens) - done, max_len)
        end = done + size
        # end - max_len - 1 >= 0 here: the first window already predicted max_len tokens.
        requests.append(Request(tokens[end - max_len - 1 : end - size], tokens[end - size : end]))
        done = end
    return requests


def rolling_loglikelihoods(
    model: Transformer,
    documents: Sequence[Sequence[int]],
    prefix_id: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pad_id: int = 0,
) -> list[RollingScore]:
    """Each document's total log-likelihood and token count, all windows of all documents in one
    batched call. prefix_id: what the first token is predicted from; for models pretrained here
    that is eos (token shards put one after every document, so a document always starts after
    an eos; bos only ever opens a chat conversation). An empty document scores 0 over 0 tokens."""
    windows: list[Request] = []
    owner: list[int] = []
    for number, document in enumerate(documents):
        for request in rolling_requests(document, prefix_id, model.config.max_seq_len):
            windows.append(request)
            owner.append(number)
    totals = [0.0] * len(documents)
    for number, score in zip(owner, loglikelihoods(model, windows, batch_size=batch_size, pad_id=pad_id)):
        totals[number] += score.loglikelihood
    return [RollingScore(total, len(document)) for total, document in zip(totals, documents)]
