"""The transformer: shapes, loss, GQA, RoPE positions, padding, config derivation, param counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from crisol.core.errors import ParamsError
from crisol.model import ModelConfig, Transformer


def tiny(**overrides) -> ModelConfig:
    return ModelConfig.from_depth(
        overrides.pop("depth", 2), overrides.pop("vocab_size", 97), overrides.pop("max_seq_len", 64), **overrides
    )


def model_of(config: ModelConfig, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(config)


def test_from_depth_derives_width_heads_and_ffn():
    c = ModelConfig.from_depth(2, vocab_size=1000, max_seq_len=256)
    assert (c.d_model, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_hidden) == (128, 2, 2, 64, 384)
    c = ModelConfig.from_depth(6, vocab_size=1000, max_seq_len=256)
    assert (c.d_model, c.n_heads, c.head_dim, c.ffn_hidden) == (384, 6, 64, 1024)
    # Derived values follow an overridden width; widths under 64 get one head as wide as the model.
    c = ModelConfig.from_depth(4, vocab_size=1000, max_seq_len=256, d_model=128)
    assert (c.depth, c.d_model, c.n_heads, c.ffn_hidden) == (4, 128, 2, 384)
    c = ModelConfig.from_depth(1, vocab_size=1000, max_seq_len=256, d_model=32)
    assert (c.n_heads, c.head_dim) == (1, 32)
    c = ModelConfig.from_depth(4, vocab_size=1000, max_seq_len=256, n_kv_heads=2)
    assert (c.n_heads, c.n_kv_heads) == (4, 2)


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"n_kv_heads": 3}, "n_kv_heads"),
        ({"d_model": 0}, "model.d_model"),
        ({"colour": 1}, "model.colour"),
        ({"head_dim": 63}, "head_dim"),
        ({"rope_theta": -1.0}, "model.rope_theta"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(overrides, named):
    with pytest.raises(ParamsError) as err:
        tiny(**overrides)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_config_round_trips_and_is_frozen():
    c = tiny(n_kv_heads=1, tie_embeddings=False)
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(Exception):
        c.depth = 3


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("kv_heads", [2, 1])
def test_num_params_matches_the_module(tie, kv_heads):
    c = tiny(tie_embeddings=tie, n_kv_heads=kv_heads)
    model = Transformer(c)
    assert c.num_params() == sum(p.numel() for p in model.parameters())
    assert c.num_params(non_embedding=True) == c.num_params() - c.vocab_size * c.d_model


def test_flops_per_token_follows_the_palm_convention():
    c = tiny(tie_embeddings=True)
    matmul = c.num_params(non_embedding=True) + c.vocab_size * c.d_model
    assert c.flops_per_token(64) == 6 * matmul + 12 * c.depth * c.d_model * 64
    with pytest.raises(ValueError):
        c.flops_per_token(0)


def test_shapes_and_loss_ignore_minus_100():
    model = model_of(tiny())
    ids = torch.randint(0, 97, (3, 11))
    targets = torch.randint(0, 97, (3, 11))
    logits, loss = model(ids, targets)
    assert logits.shape == (3, 11, 97) and logits.dtype == torch.float32
    assert loss.shape == () and torch.isclose(loss, F.cross_entropy(logits.reshape(-1, 97), targets.reshape(-1)))
    assert model(ids)[1] is None
    # Ignored targets do not count: the loss equals the mean over the kept ones alone.
    masked = targets.clone()
    masked[:, :5] = -100
    _, masked_loss = model(ids, masked)
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, 97), targets[:, 5:].reshape(-1))
    assert torch.isclose(masked_loss, expected, atol=1e-6)
    assert not torch.isclose(masked_loss, loss)
    masked_loss.backward()
    assert model.embed_tokens.weight.grad is not None


def test_causal_a_token_never_sees_the_future():
    model = model_of(tiny())
    ids = torch.randint(0, 97, (1, 12))
    changed = ids.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 97
    a, b = model(ids)[0], model(changed)[0]
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert not torch.allclose(a[:, 8:], b[:, 8:], atol=1e-3)


def test_grouped_query_attention_equals_repeated_kv_heads():
    # A GQA model with 1 kv head must compute what a full-heads model computes when every
    # query head's k/v projections are copies of that one head.
    gqa = model_of(tiny(depth=4, d_model=256, n_kv_heads=2))  # 4 query heads, 2 kv heads
    full = Transformer(tiny(depth=4, d_model=256))
    state = gqa.state_dict()
    for name, tensor in list(state.items()):
        if name.endswith("qkv_proj.weight"):
            q, k, v = tensor.split([4 * 64, 2 * 64, 2 * 64])
            repeat = [t.view(2, 64, 256).repeat_interleave(2, dim=0).reshape(4 * 64, 256) for t in (k, v)]
            state[name] = torch.cat([q, *repeat])
    full.load_state_dict(state)
    ids = torch.randint(0, 97, (2, 9))
    assert torch.allclose(gqa(ids)[0], full(ids)[0], atol=1e-5)
    assert gqa.layers[0].self_attn.qkv_proj.weight.shape == ((4 + 2 * 2) * 64, 256)


def test_explicit_positions_equal_default_and_rope_is_relative():
    model = model_of(tiny())
    ids = torch.randint(0, 97, (2, 7))
    default = model(ids)[0]
    assert torch.equal(model(ids, positions=torch.arange(7))[0], default)
    assert torch.equal(model(ids, positions=torch.arange(7).expand(2, 7))[0], default)
    # RoPE scores depend on position differences only: a uniform shift changes nothing, a
    # stretch does.
    assert torch.allclose(model(ids, positions=torch.arange(30, 37))[0], default, atol=1e-4)
    assert not torch.allclose(model(ids, positions=torch.arange(0, 14, 2))[0], default, atol=1e-3)


def test_left_padded_rows_equal_unpadded_rows():
    model = model_of(tiny())
    row = torch.randint(1, 97, (1, 6))
    padded = torch.cat((torch.zeros(1, 3, dtype=torch.long), row), dim=1)
    alone = model(row)[0]
    batched = model(torch.cat((padded, torch.randint(0, 97, (1, 9)))), starts=torch.tensor([3, 0]))[0]
    assert torch.allclose(batched[0, 3:], alone[0], atol=1e-5)
    assert not torch.isnan(batched).any()


def test_initialisation_is_documented_gpt2_style():
    c = ModelConfig.from_depth(8, vocab_size=4096, max_seq_len=32)
    model = model_of(c)
    block = model.layers[0]
    assert block.self_attn.qkv_proj.weight.std().item() == pytest.approx(c.init_std, rel=0.05)
    assert block.mlp.down_proj.weight.std().item() == pytest.approx(c.init_std / math.sqrt(16), rel=0.05)
    assert block.self_attn.o_proj.weight.std().item() == pytest.approx(c.init_std / math.sqrt(16), rel=0.05)
    assert torch.equal(block.input_layernorm.weight, torch.ones(c.d_model))
    assert model.lm_head.weight is model.embed_tokens.weight
    assert model_of(tiny(tie_embeddings=False)).lm_head.weight is not model_of(tiny()).embed_tokens.weight


def test_bfloat16_model_runs_with_float32_rotary_tables():
    model = model_of(tiny())
    ids = torch.randint(0, 97, (2, 10))
    reference = model(ids)[0]
    model.to(torch.bfloat16)
    assert model.rotary.cos.dtype == torch.float32  # cast per call, as transformers does
    logits = model(ids)[0]
    assert logits.dtype == torch.float32 and (logits - reference).abs().max().item() < 0.05


def test_attention_stays_float32_under_cpu_autocast(monkeypatch):
    import crisol.model.attention as attention

    seen = []
    sdpa = attention.F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q.dtype, k.dtype, v.dtype, torch.is_autocast_enabled("cpu")))
        return sdpa(q, k, v, **kw)

    monkeypatch.setattr(attention.F, "scaled_dot_product_attention", spy)
    model = model_of(tiny())
    ids = torch.randint(0, 97, (2, 10))
    reference = model(ids)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = model(ids, ids)
    loss.backward()  # the float32 attention's backward runs beside the bf16 matmuls'
    assert seen[-1] == (torch.float32, torch.float32, torch.float32, False)
    assert logits.dtype == torch.float32 and (logits - reference).abs().max().item() < 0.05
    assert model.layers[0].self_attn.qkv_proj.weight.grad.dtype == torch.float32


def test_bad_inputs_are_clear_errors():
    model = model_of(tiny(max_seq_len=8))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        model(torch.zeros(9, dtype=torch.long))
    with pytest.raises(ValueError, match="targets shape"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
