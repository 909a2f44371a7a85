"""Generation: the KV cache changes nothing but speed; batching changes nothing; sampling filters."""

from __future__ import annotations

import pytest
import torch

from crisol.model import KVCache, ModelConfig, Transformer, generate
from crisol.model.sampling import filter_logits

VOCAB = 101


@pytest.fixture(scope="module")
def model() -> Transformer:
    # Random weights scaled up so greedy decoding wanders over many tokens instead of repeating one.
    torch.manual_seed(0)
    m = Transformer(ModelConfig.from_depth(2, VOCAB, 96, n_kv_heads=1, init_std=0.3))
    return m.eval()


PROMPTS = [[5, 17, 3, 99, 42, 8, 1], [7, 7], [60, 2, 33, 4], [11]]


def test_greedy_with_cache_equals_without(model):
    cached = generate(model, PROMPTS, 24, temperature=0)
    recomputed = generate(model, PROMPTS, 24, temperature=0, use_cache=False)
    assert cached == recomputed
    assert all(len(row) == 24 for row in cached)
    assert len({t for row in cached for t in row}) > 10  # the test would notice a stuck decoder


def test_cached_logits_equal_full_forward(model):
    ids = torch.randint(0, VOCAB, (2, 12))
    with torch.no_grad():
        full = model(ids)[0]
        cache = KVCache.for_model(model, 2, 16)
        prefix = model(ids[:, :5], cache=cache)[0]
        chunk = model(ids[:, 5:8], cache=cache)[0]  # a multi-token step after a prefix
        steps = [model(ids[:, i : i + 1], cache=cache)[0] for i in range(8, 12)]
    assert cache.length == 12
    stitched = torch.cat([prefix, chunk, *steps], dim=1)
    assert torch.allclose(stitched, full, atol=1e-4)


def test_left_padded_batch_equals_each_prompt_alone(model):
    batched = generate(model, PROMPTS, 20, temperature=0)
    alone = [generate(model, [p], 20, temperature=0)[0] for p in PROMPTS]
    assert batched == alone
    assert generate(model, PROMPTS, 20, temperature=0, use_cache=False, pad_id=50) == alone


def test_padded_cache_logits_equal_single_row(model):
    prompt = torch.tensor([[4, 8, 15, 16, 23]])
    padded = torch.cat((torch.tensor([[0, 0, 0]]), prompt), dim=1)
    batch = torch.cat((padded, torch.randint(0, VOCAB, (1, 8))))
    with torch.no_grad():
        alone = model(torch.cat((prompt, torch.tensor([[42, 7]])), dim=1))[0]
        cache = KVCache.for_model(model, 2, 12, starts=[3, 0])
        first = model(batch, cache=cache)[0]
        second = model(torch.tensor([[42], [1]]), cache=cache)[0]
        third = model(torch.tensor([[7], [1]]), cache=cache)[0]
    assert torch.allclose(first[0, 3:], alone[0, :5], atol=1e-4)
    assert torch.allclose(second[0, 0], alone[0, 5], atol=1e-4)
    assert torch.allclose(third[0, 0], alone[0, 6], atol=1e-4)


def test_cache_tables_for_left_padding():
    # RoPE depends only on position differences, so a row's outputs cannot tell whether its
    # positions start at 0; the tables are checked directly.
    cache = KVCache(n_layers=1, batch_size=2, n_kv_heads=1, head_dim=2, max_len=5, starts=[2, 0])
    assert cache.slot_positions.tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]]
    assert cache.key_valid.tolist() == [[False, False, True, True, True], [True] * 5]
    assert not KVCache(n_layers=1, batch_size=2, n_kv_heads=1, head_dim=2, max_len=5).padded


def test_stop_tokens_cut_and_are_excluded(model):
    free = generate(model, PROMPTS, 20, temperature=0)
    stop = free[0][5]
    cut = generate(model, PROMPTS, 20, temperature=0, stop_ids=[stop])
    for full_row, cut_row in zip(free, cut):
        expected = full_row[: full_row.index(stop)] if stop in full_row else full_row
        assert cut_row == expected
    assert cut[0] == free[0][: free[0].index(stop)] and len(cut[0]) <= 5


def test_sampling_is_seeded_and_top_k_one_is_greedy(model):
    a = generate(model, PROMPTS, 16, temperature=1.0, seed=3)
    assert a == generate(model, PROMPTS, 16, temperature=1.0, seed=3)
    assert a != generate(model, PROMPTS, 16, temperature=1.0, seed=4)
    greedy = generate(model, PROMPTS, 16, temperature=0)
    assert generate(model, PROMPTS, 16, temperature=1.0, top_k=1, seed=5) == greedy
    assert generate(model, PROMPTS, 16, temperature=1.0, top_p=1e-6, seed=5) == greedy
    assert generate(model, PROMPTS, 0, temperature=0) == [[], [], [], []]


def test_top_k_samples_stay_in_the_top_k(model):
    # With top_k=3 every sampled token must be among the 3 most likely under the full forward.
    tokens = generate(model, [PROMPTS[0]], 12, temperature=1.5, top_k=3, seed=0)[0]
    sequence = torch.tensor([PROMPTS[0] + tokens])
    with torch.no_grad():
        logits = model(sequence)[0][0, len(PROMPTS[0]) - 1 : -1]
    top3 = logits.topk(3, dim=-1).indices
    assert all(token in top3[i].tolist() for i, token in enumerate(tokens))


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).sum().item() == 2
    # The smallest set whose probability reaches 0.6 is {0.5, 0.2}; 0.72 needs the third token.
    kept = torch.isfinite(filter_logits(logits, top_p=0.6))[0].tolist()
    assert kept == [True, True, False, False, False]
    assert torch.isfinite(filter_logits(logits, top_p=0.68))[0].tolist() == [True, True, False, False, False]
    assert torch.isfinite(filter_logits(logits, top_p=0.72))[0].sum().item() == 3
    assert torch.isfinite(filter_logits(logits, top_p=0.4))[0].sum().item() == 1
    assert torch.isfinite(filter_logits(logits, top_k=1, top_p=0.99))[0].tolist() == [True, False, False, False, False]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompts": []}, "no prompts"),
        ({"prompts": [[1], []]}, "prompt 1 is empty"),
        ({"prompts": [[VOCAB]]}, "outside the vocabulary"),
        ({"max_new_tokens": 200}, "max_seq_len"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
        ({"pad_id": -1}, "pad_id"),
    ],
)
def test_bad_arguments_are_clear_errors(model, kwargs, message):
    args = {"prompts": [[1, 2]], "max_new_tokens": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(model, args.pop("prompts"), args.pop("max_new_tokens"), **args)


def test_cache_overflow_and_batch_mismatch_are_errors(model):
    cache = KVCache.for_model(model, 1, 4)
    with pytest.raises(ValueError, match="cache full"):
        model(torch.zeros(1, 5, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="rows"):
        model(torch.zeros(2, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="starts"):
        KVCache.for_model(model, 2, 4, starts=[0])
