"""The optimiser option: which parameters Muon takes, that it learns, and that its state checkpoints
and restores exactly (the pretrain stage's checkpoint format, several optimisers keyed by name)."""

from __future__ import annotations

import pytest
import torch

from crisol.model import ModelConfig, Transformer
from crisol.training.muon import BatchedMuon
from crisol.training.optim import build_optimizer, set_lr
from stages.pretrain import checkpoint

CPU = torch.device("cpu")
HIDDEN = ("self_attn.qkv_proj.weight", "self_attn.o_proj.weight", "mlp.gate_up_proj.weight", "mlp.down_proj.weight")


def _model(tied: bool = True, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(ModelConfig.from_depth(2, 64, 16, d_model=32, tie_embeddings=tied))


def _muon(model: Transformer, scale: float = 1.0):
    return build_optimizer(model, "muon", lr=1e-2, weight_decay=0.0, betas=(0.9, 0.95), device=CPU, muon_lr_scale=scale)


def _names(model: Transformer, groups: list[dict]) -> set[str]:
    by_id = {id(p): name for name, p in model.named_parameters()}
    return {by_id[id(p)] for group in groups for p in group["params"]}


@pytest.mark.parametrize("tied", [True, False])
def test_muon_takes_the_blocks_matrices_and_adamw_the_rest(tied):
    model = _model(tied)
    muon, rest = _muon(model).optimizers
    assert isinstance(muon, BatchedMuon) and isinstance(rest, torch.optim.AdamW)
    assert _names(model, muon.param_groups) == {f"layers.{i}.{n}" for i in range(2) for n in HIDDEN}
    outer = {"embed_tokens.weight", "norm.weight"} | ({"lm_head.weight"} if not tied else set())
    norms = {f"layers.{i}.{n}.weight" for i in range(2) for n in ("input_layernorm", "post_attention_layernorm")}
    assert _names(model, rest.param_groups) == outer | norms


def test_frozen_parameters_are_left_out():
    model = _model()
    model.layers[0].requires_grad_(False)
    model.embed_tokens.requires_grad_(False)
    muon, rest = _muon(model).optimizers
    assert _names(model, muon.param_groups) == {f"layers.1.{n}" for n in HIDDEN}
    assert "embed_tokens.weight" not in _names(model, rest.param_groups)


def test_set_lr_scales_only_muons_group():
    optimizer = _muon(_model(), scale=4.0)
    set_lr(optimizer, 1e-3)
    muon, rest = optimizer.optimizers
    assert [g["lr"] for g in muon.param_groups] == [4e-3]
    assert all(g["lr"] == 1e-3 for g in rest.param_groups)


def _step(model: Transformer, optimizer, ids: torch.Tensor) -> float:
    loss = model(ids, ids)[1]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def test_a_few_muon_steps_reduce_the_loss():
    model = _model()
    optimizer = _muon(model)
    ids = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(0))
    losses = [_step(model, optimizer, ids) for _ in range(10)]
    assert losses[-1] < losses[0] - 0.5, losses


def test_checkpoint_restores_muon_exactly(tmp_path):
    model = _model()
    optimizer = _muon(model)
    ids = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        _step(model, optimizer, ids)
    model_state, optim_state = checkpoint.gather(model, optimizer)
    checkpoint.save(tmp_path, 3, model_state, optim_state, {"tied": True, "fingerprint": {}}, keep=1)

    other = _model(seed=1)
    other_opt = _muon(other)
    checkpoint.restore(checkpoint.latest(tmp_path), other, other_opt, tied=True)
    for _ in range(3):
        _step(model, optimizer, ids)
        _step(other, other_opt, ids)
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name
