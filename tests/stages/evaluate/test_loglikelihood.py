"""The scoring primitive against a naive one-request-at-a-time forward: sums, greedy flags, left
truncation, batch order; the text and chat request builders; rolling windows against an
independent token-by-token computation."""

from __future__ import annotations

import random

import pytest
import torch

from crisol.chat.template import ChatTemplate
from crisol.model import generate
from kit.chat import small_tokenizer
from kit.evaluate import tiny_model
from stages.evaluate.loglikelihood import (
    Request,
    chat_request,
    loglikelihoods,
    rolling_loglikelihoods,
    rolling_requests,
    text_request,
)

VOCAB = 90
MAX_LEN = 16


@pytest.fixture(scope="module")
def model():
    return tiny_model(VOCAB, MAX_LEN)


def naive(model, context, continuation):
    """One forward of one unpadded row, every vocabulary log-prob, lm-eval's window by hand."""
    whole = list(context) + list(continuation)
    whole = whole[-(MAX_LEN + 1) :]
    inputs = whole[:-1]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([inputs]))[0][0].double(), dim=-1)
    first = len(inputs) - len(continuation)
    rows = logprobs[first:]
    total = sum(rows[j, t].item() for j, t in enumerate(continuation))
    greedy = all(int(rows[j].argmax()) == t for j, t in enumerate(continuation))
    return total, greedy


def random_requests(n, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        context = [rng.randrange(VOCAB) for _ in range(rng.randint(1, 12))]
        continuation = [rng.randrange(VOCAB) for _ in range(rng.randint(1, 4))]
        out.append(Request(context, continuation))
    return out


def test_sums_and_greedy_flags_match_a_naive_forward(model):
    requests = random_requests(25)
    # Two continuations that are the model's own greedy choice: is_greedy must say so.
    for context in ([3, 17, 42], [8]):
        greedy = generate(model, [context], 3, temperature=0)[0]
        requests.append(Request(context, greedy))
    scores = loglikelihoods(model, requests, batch_size=4)
    for request, score in zip(requests, scores):
        total, greedy = naive(model, request.context, request.continuation)
        assert score.loglikelihood == pytest.approx(total, abs=1e-5)
        assert score.is_greedy == greedy
        assert score.tokens == len(request.continuation) and score.truncated == 0
    assert scores[-1].is_greedy and scores[-2].is_greedy
    assert not all(s.is_greedy for s in scores[:25])


def test_batching_restores_the_callers_order(model, monkeypatch):
    requests = random_requests(30, seed=1)
    one_by_one = [loglikelihoods(model, [r], batch_size=1)[0] for r in requests]
    batched = loglikelihoods(model, requests, batch_size=7)
    assert [s.loglikelihood for s in batched] == pytest.approx([s.loglikelihood for s in one_by_one], abs=1e-5)
    order = list(range(30))
    random.Random(3).shuffle(order)
    shuffled = loglikelihoods(model, [requests[i] for i in order], batch_size=7)
    assert [s.loglikelihood for s in shuffled] == pytest.approx([batched[i].loglikelihood for i in order], abs=1e-5)
    # The lm_head in slices of a few positions (memory bound) gives the same scores.
    monkeypatch.setattr("stages.evaluate.loglikelihood.LOGIT_ROWS", 3)
    sliced = loglikelihoods(model, requests, batch_size=7)
    assert [s.loglikelihood for s in sliced] == pytest.approx([s.loglikelihood for s in batched], abs=1e-5)
    assert [s.is_greedy for s in sliced] == [s.is_greedy for s in batched]


def test_too_long_requests_lose_context_from_the_left(model):
    context = [(7 * i) % VOCAB for i in range(30)]
    continuation = [5, 9, 11]
    score = loglikelihoods(model, [Request(context, continuation)])[0]
    # lm-eval keeps the last MAX_LEN + 1 tokens of context + continuation.
    kept = context[-(MAX_LEN + 1 - len(continuation)) :]
    assert score.truncated == len(context) - len(kept)
    assert score.loglikelihood == pytest.approx(naive(model, kept, continuation)[0], abs=1e-5)
    alone = loglikelihoods(model, [Request(kept, continuation)])[0]
    assert alone.truncated == 0 and alone.loglikelihood == pytest.approx(score.loglikelihood, abs=1e-5)


def test_a_continuation_must_fit_the_context_window(model):
    fits = loglikelihoods(model, [Request([1], list(range(MAX_LEN)))])[0]  # 1 + 16 tokens = max + 1
    assert fits.tokens == MAX_LEN and fits.truncated == 0
    with pytest.raises(ValueError, match="does not fit"):
        loglikelihoods(model, [Request([1], list(range(MAX_LEN + 1)))])
    with pytest.raises(ValueError, match="empty context"):
        loglikelihoods(model, [Request([], [1])])
    with pytest.raises(ValueError, match="empty continuation"):
        loglikelihoods(model, [Request([1], [])])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        loglikelihoods(model, [Request([1], [VOCAB])])
    assert loglikelihoods(model, []) == []


def test_the_model_mode_is_left_as_found(model):
    model.train()
    loglikelihoods(model, random_requests(2))
    assert model.training
    model.eval()


@pytest.fixture(scope="module")
def template():
    return ChatTemplate(small_tokenizer())


def test_text_request_follows_lm_evals_encode_pair(template):
    encode = template.encode_text
    request = text_request(encode, "The river Velmar flows ", "through the old city")
    # Trailing whitespace moves to the continuation; the continuation is the tail of one encoding.
    assert request.text == " through the old city"
    assert list(request.context) == encode("The river Velmar flows")
    assert list(request.continuation) == encode("The river Velmar flows through the old city")[len(request.context) :]
    split_word = text_request(encode, "The riv", "er Velmar")
    assert list(split_word.continuation) == encode("The river Velmar")[len(encode("The riv")) :]
    prefixed = text_request(encode, "Maps", " are arguments", prefix=[template.eos_id])
    assert prefixed.context[0] == template.eos_id and list(prefixed.context[1:]) == encode("Maps")
    empty = text_request(encode, "", "Maps are", prefix=[template.eos_id])
    assert empty.context == (template.eos_id,) and list(empty.continuation) == encode("Maps are")
    # Special-token strings in the text stay text.
    literal = text_request(encode, "a <|eos|> b", " <|end|>")
    assert template.eos_id not in literal.context and template.end_id not in literal.continuation


def test_text_counts_come_with_the_score(template):
    model = tiny_model(template.text_tokenizer.get_vocab_size(), 64)
    request = text_request(template.encode_text, "Ostrand", " café")
    score = loglikelihoods(model, [request, Request([1], [2])])
    assert (score[0].chars, score[0].bytes) == (5, 6)
    assert (score[1].chars, score[1].bytes) == (None, None)


def test_chat_request_scores_the_reply_where_the_model_writes_it(template):
    messages = [{"role": "user", "content": "Where was Maren Okafor born?"}]
    request = chat_request(template, messages, "In Kelby.")
    assert list(request.context) == template.generation_prompt(messages)
    assert list(request.continuation) == template.encode_content("In Kelby.")
    closed = chat_request(template, messages, "In Kelby.", with_end=True)
    assert list(closed.continuation) == template.encode_content("In Kelby.") + [template.end_id]
    full = template.render(messages + [{"role": "assistant", "content": "In Kelby."}]).ids
    assert list(closed.context + closed.continuation) == full


def test_rolling_windows_are_lm_evals(model):
    # The example in lm-eval's LM.loglikelihood_rolling docstring: tokens 0..9, context 4.
    windows = rolling_requests(list(range(10)), prefix_id=99, max_len=4)
    assert [(w.context, w.continuation) for w in windows] == [
        ((99,), (0, 1, 2, 3)),
        ((3,), (4, 5, 6, 7)),
        ((5, 6, 7), (8, 9)),
    ]
    for length in range(0, 40):
        tokens = list(range(100, 100 + length))
        windows = rolling_requests(tokens, 1, MAX_LEN)
        assert [t for w in windows for t in w.continuation] == tokens  # each token once, in order
        assert all(len(w.context) + len(w.continuation) <= MAX_LEN + 1 for w in windows)


def test_rolling_loglikelihood_equals_token_by_token(model):
    rng = random.Random(5)
    document = [rng.randrange(VOCAB) for _ in range(45)]  # 3 windows of 16 predictions, the last 13
    prefix = 4
    expected = 0.0
    ends = list(range(MAX_LEN, len(document), MAX_LEN)) + [len(document)]
    for i, token in enumerate(document):
        end = next(e for e in ends if i < e)
        # Token i sees the document from its window's first input token (the prefix in the
        # first window; in a later one, the token max_len + 1 before the window's end).
        inputs = [prefix] + document[:i] if end == ends[0] else document[end - MAX_LEN - 1 : i]
        assert 1 <= len(inputs) <= MAX_LEN
        with torch.no_grad():
            logprobs = torch.log_softmax(model(torch.tensor([inputs]))[0][0, -1].double(), dim=-1)
        expected += logprobs[token].item()
    short = document[:10]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(torch.tensor([[prefix] + short[:-1]]))[0][0].double(), dim=-1)
    short_expected = sum(logprobs[j, t].item() for j, t in enumerate(short))
    scores = rolling_loglikelihoods(model, [document, short, []], prefix, batch_size=2)
    assert scores[0].tokens == 45 and scores[0].loglikelihood == pytest.approx(expected, abs=1e-4)
    assert scores[1].tokens == 10 and scores[1].loglikelihood == pytest.approx(short_expected, abs=1e-5)
    assert (scores[2].tokens, scores[2].loglikelihood) == (0, 0.0)
