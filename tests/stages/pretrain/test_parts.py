"""The pretrain stage's parts: schedule, window sampler, byte accounting, sizing, checkpoint format."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crisol.formats.tokenizer_file import token_byte_lengths
from crisol.model import ModelConfig, Transformer
from crisol.training.schedule import learning_rate
from crisol.training.windows import GlobalBatches, WindowSampler
from stages.pretrain import checkpoint
from stages.pretrain.accounting import accounting
from stages.pretrain.sizing import chinchilla
from stages.pretrain.sizing import main as sizing_main


class FakeSplit:
    """The two things WindowSampler reads from a TokenSplit."""

    def __init__(self, arrays: list[np.ndarray]):
        self._arrays = arrays
        self.shard_indices = list(range(len(arrays)))
        self.directory = "fake"
        self.manifest = type("M", (), {"tokens": sum(len(a) for a in arrays)})()

    def tokens(self, index: int) -> np.ndarray:
        return self._arrays[index]


def _shards() -> FakeSplit:
    # Shard k holds values 1000 k + position, so a window tells where it came from.
    return FakeSplit([np.arange(n, dtype=np.uint16) + 1000 * k for k, n in enumerate([300, 40, 900, 5])])


@pytest.mark.parametrize("decay", ["cosine", "linear"])
def test_schedule_warms_up_then_decays_to_the_floor(decay):
    lrs = [learning_rate(s, peak=1.0, warmup=10, total=100, floor_ratio=0.1, decay=decay) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert learning_rate(100, peak=1.0, warmup=10, total=100, floor_ratio=0.1, decay=decay) == pytest.approx(0.1)
    assert min(lrs) >= 0.1 - 1e-12


def test_windows_are_consecutive_tokens_weighted_by_shard_size():
    sampler = WindowSampler(_shards(), seq_len=16, seed=3)
    x, y = sampler.gather(sampler.draw(4000))
    assert x.dtype == torch.int64 and x.shape == (4000, 16)
    assert torch.equal(x[:, 1:], y[:, :-1]) and torch.all(y[:, -1] - x[:, -1] == 1)  # consecutive
    shard = (x[:, 0] // 1000).numpy()
    assert 3 not in shard  # 5 tokens: no window of 17 fits
    counts = np.bincount(shard, minlength=3)
    expected = np.array([300 - 16, 40 - 16, 900 - 16]) / (300 + 40 + 900 - 48)
    assert np.allclose(counts / counts.sum(), expected, atol=0.03)


def test_sampler_state_restores_the_same_draws():
    a = WindowSampler(_shards(), seq_len=8, seed=7)
    a.draw(10)
    saved = a.state()
    following = a.draw(50)
    b = WindowSampler(_shards(), seq_len=8, seed=99)
    b.load_state(saved)
    assert np.array_equal(b.draw(50), following)


def test_ranks_split_one_global_batch():
    """Two ranks with accumulation 1 read what one process with accumulation 2 reads, in order."""
    one = GlobalBatches(WindowSampler(_shards(), 8, seed=1), batch_size=3, grad_accum=2, rank=0, world=1)
    ranks = [
        GlobalBatches(WindowSampler(_shards(), 8, seed=1), batch_size=3, grad_accum=1, rank=r, world=2)
        for r in range(2)
    ]
    for _ in range(3):
        single = one.next_step()
        split = [r.next_step()[0] for r in ranks]
        assert torch.equal(single[0][0], split[0][0]) and torch.equal(single[1][0], split[1][0])
        assert not torch.equal(split[0][0], split[1][0])


def test_byte_lengths_sum_to_the_text_bytes(tmp_path):
    from tokenizers import Tokenizer

    from kit.pretrain import make_corpus

    corpus = make_corpus(tmp_path)
    tokenizer = Tokenizer.from_file(str(corpus["tokenizer"] / "tokenizer.json"))
    lengths = token_byte_lengths(tokenizer)
    text = "Maren Okafor was born in 1871 — café, 4,300 people.\n"
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    assert lengths[ids].sum() == len(text.encode("utf-8"))
    eos = tokenizer.token_to_id("<|eos|>")
    assert lengths[eos] == 0


def test_chinchilla_sizing():
    s = chinchilla(1e18, vocab_size=4096, seq_len=1024)
    assert s.params == pytest.approx(math.sqrt(1e18 / 120))
    assert s.tokens == pytest.approx(20 * s.params)
    assert 6 * s.params * s.tokens == pytest.approx(1e18)
    assert s.depth == 12  # d768, 85M non-embedding: the closest to 91M
    with pytest.raises(ValueError):
        chinchilla(0)


def test_sizing_command_prints_n_d_and_depth(capsys):
    assert sizing_main(["--flops", "1e18"]) == 0
    out = capsys.readouterr().out
    assert "N = 9.13e+07" in out and "D = 1.83e+09" in out and "closest depth: 12" in out


def test_accounting_on_cpu_has_no_mfu_and_states_its_energy_assumption():
    a = accounting(
        device=torch.device("cpu"),
        world=1,
        flops_per_token=1000,
        tokens=10_000,
        train_seconds=2.0,
        cpu_watts_per_core=10.0,
    )
    assert a["mfu"] is None and a["flops"] == 1e7 and a["tokens_per_s"] == 5000
    assert "assumed 10 W per core" in a["energy_basis"] and a["energy_kwh"] > 0


def test_checkpoint_roundtrip_restores_model_and_optimiser(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig.from_depth(1, 50, 16, d_model=32)
    model = Transformer(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.randint(0, 50, (2, 16))
    for _ in range(2):
        model(ids, ids)[1].backward()
        optimizer.step()
        optimizer.zero_grad()
    model_state, optim_state = checkpoint.gather(model, optimizer)
    checkpoint.save(tmp_path, 2, model_state, optim_state, {"tied": True, "fingerprint": {"a": 1}}, keep=1)
    found = checkpoint.latest(tmp_path)
    assert found.step == 2 and found.state["fingerprint"] == {"a": 1}

    other = Transformer(config)
    other_opt = torch.optim.AdamW(other.parameters(), lr=1e-2)
    checkpoint.restore(found, other, other_opt, tied=True)
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name
    assert other.lm_head.weight is other.embed_tokens.weight  # still tied
    for group in (model, other):
        group(ids, ids)[1].backward()
    optimizer.step()
    other_opt.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))
    # keep=1: a newer checkpoint replaces the old one
    checkpoint.save(tmp_path, 3, model_state, optim_state, {"tied": True, "fingerprint": {}}, keep=1)
    assert [s for s, _ in checkpoint.complete_checkpoints(tmp_path)] == [3]


def test_fingerprint_differences_name_the_keys():
    assert checkpoint.fingerprint_differences({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b: 2 -> 3"]
