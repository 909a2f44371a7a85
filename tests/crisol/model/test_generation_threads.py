"""A narrow model generating a few rows runs on one torch thread (a busy neighbour cannot stall its
decode steps: crisol/model/generation_threads.py), a wide model or a big batch on the count set;
the count is restored."""

from __future__ import annotations

import pytest
import torch

from crisol.model import ModelConfig, Transformer, generate
from crisol.model.generation_threads import ONE_THREAD_MAX_ROWS, ONE_THREAD_MAX_WIDTH, generation_threads


def _model(d_model: int) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig.from_depth(1, 64, 32, d_model=d_model)).eval()


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _threads_seen(model: Transformer, rows: int = 2) -> set[int]:
    seen: set[int] = set()
    handle = model.lm_head.register_forward_pre_hook(lambda *_: seen.add(torch.get_num_threads()))
    try:
        generate(model, [[1, 2, 3], [4]] * (rows // 2), 5, temperature=0)
    finally:
        handle.remove()
    return seen


def test_a_narrow_model_generates_on_one_thread_and_the_count_is_restored(two_threads):
    assert _threads_seen(_model(64)) == {1}
    assert torch.get_num_threads() == 2


def test_a_wide_model_or_a_big_batch_generates_on_the_count_set(two_threads):
    assert _threads_seen(_model(ONE_THREAD_MAX_WIDTH + 64)) == {2}
    assert _threads_seen(_model(64), rows=ONE_THREAD_MAX_ROWS + 2) == {2}
    assert torch.get_num_threads() == 2


def test_the_choice_follows_the_models_and_the_count_set_never_the_load():
    narrow, wide = _model(64), _model(ONE_THREAD_MAX_WIDTH + 64)
    assert generation_threads([narrow], configured=4) == 1
    assert generation_threads([wide], configured=4) == 4
    assert generation_threads([narrow, wide], configured=4) == 4  # one process, one count: the wide model's
    assert generation_threads([narrow], configured=1) == 1
    assert generation_threads([narrow], configured=4, rows=ONE_THREAD_MAX_ROWS) == 1
    assert generation_threads([narrow], configured=4, rows=ONE_THREAD_MAX_ROWS + 1) == 4


def test_the_same_prompts_give_the_same_tokens_on_every_call(two_threads):
    model = _model(64)
    prompts = [[1, 2, 3], [4], [9, 9, 9, 9]]
    first = generate(model, prompts, 12, temperature=0.9, seed=3)
    assert all(generate(model, prompts, 12, temperature=0.9, seed=3) == first for _ in range(3))
