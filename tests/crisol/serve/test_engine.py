"""The server's generation core without HTTP: continuous batching gives each request what
`generate` gives it alone, rows join and leave freely, cancelled jobs free their rows, a full
queue refuses, and streamed text pieces always join into the final text."""

from __future__ import annotations

import threading

import pytest
import torch

from crisol.model.config import ModelConfig
from crisol.model.kv_cache import KVCache
from crisol.model.sampling import generate
from crisol.model.slot_cache import SlotCache
from crisol.model.transformer import Transformer
from crisol.serve.engine import Engine, Finish, Job, QueueFull, Sampling, Token
from crisol.serve.text import ReplyText

VOCAB, CONTEXT = 300, 96


@pytest.fixture(scope="module")
def model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig.from_depth(2, VOCAB, CONTEXT, d_model=32, n_kv_heads=1)).eval()


def run_jobs(engine: Engine, specs: list[tuple[list[int], Sampling]]) -> tuple[list[list[int]], list[Finish]]:
    tokens: list[list[int]] = [[] for _ in specs]
    finishes: list[Finish | None] = [None] * len(specs)
    done = threading.Semaphore(0)
    for i, (prompt, sampling) in enumerate(specs):

        def deliver(event, i=i):
            if isinstance(event, Token):
                tokens[i].append(event.id)
            else:
                finishes[i] = event
                done.release()

        engine.submit(Job(prompt, sampling, deliver))
    for _ in specs:
        assert done.acquire(timeout=60)
    return tokens, finishes


def prompts(count: int, seed: int = 1) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 40, (count,), generator=g).tolist()
    return [torch.randint(0, VOCAB, (n,), generator=g).tolist() for n in lengths]


def test_batched_greedy_equals_each_prompt_alone(model):
    """Ten prompts of different lengths and budgets through a 3-row batch: rows join and leave
    mid-way, yet every reply is generate's for that prompt alone."""
    engine = Engine(model, max_batch=3)
    try:
        specs = [
            (p, Sampling(max_tokens=5 + 3 * i, temperature=0, stop_ids=frozenset({7})))
            for i, p in enumerate(prompts(10))
        ]
        tokens, finishes = run_jobs(engine, specs)
        for (prompt, sampling), got, finish in zip(specs, tokens, finishes):
            expected = generate(model, [prompt], sampling.max_tokens, temperature=0, stop_ids=[7])[0]
            assert got == expected
            assert finish.reason == ("stop" if len(expected) < sampling.max_tokens else "length")
        assert engine.steps > 0 and engine.load() == {"running": 0, "waiting": 0, "steps": engine.steps}
    finally:
        engine.close()


def test_seeded_sampling_repeats_and_matches_generate(model):
    engine = Engine(model, max_batch=4)
    try:
        prompt = prompts(1, seed=3)[0]
        sampling = Sampling(max_tokens=20, temperature=0.9, top_p=0.9, seed=11)
        (first, second), _ = run_jobs(engine, [(prompt, sampling), (prompt, sampling)])
        assert first == second == generate(model, [prompt], 20, temperature=0.9, top_p=0.9, seed=11)[0]
    finally:
        engine.close()


def test_cancel_frees_the_row_and_a_full_queue_refuses(model):
    engine = Engine(model, max_batch=1, max_queue=1)
    try:
        started = threading.Event()
        finished: list[Finish] = []
        long_job = Job(
            prompts(1)[0],
            Sampling(max_tokens=CONTEXT - 40, temperature=0),
            deliver=lambda e: started.set() if isinstance(e, Token) else finished.append(e),
        )
        engine.submit(long_job)
        assert started.wait(30)
        waiting = Job([1, 2, 3], Sampling(max_tokens=2, temperature=0), deliver=lambda e: None)
        engine.submit(waiting)  # the one queue place
        with pytest.raises(QueueFull):
            engine.submit(Job([1], Sampling(max_tokens=2), deliver=lambda e: None))
        long_job.cancel()
        engine.close(timeout=30)
        assert finished and finished[0].reason in {"cancelled", "length"}
        assert engine.load()["running"] == engine.load()["waiting"] == 0
    finally:
        engine.close()


def test_zero_max_tokens_finishes_at_once(model):
    engine = Engine(model)
    try:
        tokens, finishes = run_jobs(engine, [([5, 6], Sampling(max_tokens=0))])
        assert tokens == [[]] and finishes[0] == Finish("length", 0)
    finally:
        engine.close()


def test_slot_cache_rows_move_when_one_leaves(model):
    cache = SlotCache(model, max_rows=4)
    for length in (3, 5, 2):
        prefill = KVCache.for_model(model, 1, length)
        model.hidden_states(torch.randint(0, VOCAB, (1, length)), cache=prefill)
        cache.add(prefill)
    assert cache.capacity == 4 and cache.lengths[:3].tolist() == [3, 5, 2]
    kept = cache.keys[0][2, :, :2].clone()
    assert cache.remove(0) == 2  # the last row moved into the freed place
    assert cache.active == 2 and cache.lengths[:2].tolist() == [2, 5]
    assert torch.equal(cache.keys[0][0, :, :2], kept)
    assert cache.remove(1) is None and cache.active == 1


def stream(text: ReplyText, ids: list[int]) -> str:
    return "".join(text.push(i) for i in ids) + text.finish()


def test_reply_text_holds_back_stop_prefixes_and_partial_characters():
    pieces = {1: "Hel", 2: "lo EN", 3: "D more", 4: "\ufffd", 5: "é"}

    def decode(ids):  # a partial character shows as U+FFFD until the next token completes it
        text = "".join(pieces[i] for i in ids)
        return text.replace("\ufffdé", "é")

    text = ReplyText(decode, stop=["END"])
    assert text.push(1) == "Hel"
    assert text.push(2) == "lo "  # "EN" may begin the stop string: held back
    assert text.push(3) == "" and text.stopped and text.text == "Hello "
    plain = ReplyText(decode)
    assert plain.push(4) == "" and plain.push(5) == "é"
    assert stream(ReplyText(decode, stop=["xyz"]), [1, 2, 3]) == "Hello END more"
    assert stream(ReplyText(lambda ids: " " + "a" * len(ids), strip_prefix=" "), [1, 1]) == "aa"
