"""BatchedMuon is torch.optim.Muon with batched iterations: the same weights to bf16's rounding (the
iterations run in bf16 in both, and a batched reduction may round one element otherwise), and the
same state, so either loads the other's checkpoint."""

from __future__ import annotations

import pytest
import torch

from crisol.training.muon import BatchedMuon, adjusted_lr

# Square, wide and tall matrices, two of a shape, one alone: every batching case.
SHAPES = [(16, 16), (16, 16), (16, 48), (48, 16), (48, 16), (8, 4)]


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    torch.manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape)) for shape in SHAPES]


def _step(optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], grads: list[torch.Tensor]) -> None:
    for p, g in zip(params, grads):
        p.grad = g.clone()
    optimizer.step()


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("rule", ["match_rms_adamw", "original"])
def test_the_same_weights_as_torchs_muon(nesterov, rule):
    theirs, ours = _params(), _params()
    settings = {"lr": 0.02, "weight_decay": 0.1, "nesterov": nesterov, "adjust_lr_fn": rule}
    reference, batched = torch.optim.Muon(theirs, **settings), BatchedMuon(ours, **settings)
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        grads = [torch.randn(shape, generator=generator) for shape in SHAPES]
        _step(reference, theirs, grads)
        _step(batched, ours, grads)
    for a, b in zip(theirs, ours):
        # One bf16 rounding of an update (lr x 0.8 x 2**-8 here), where a wrong update is 100x off.
        torch.testing.assert_close(a, b, rtol=0, atol=1e-3)
    assert sum(torch.equal(a, b) for a, b in zip(theirs, ours)) >= len(SHAPES) - 2


def test_state_loads_across_the_two_and_a_matrix_without_gradient_is_left_alone():
    theirs, ours = _params(), _params()
    reference, batched = torch.optim.Muon(theirs, lr=0.02), BatchedMuon(ours, lr=0.02)
    _step(reference, theirs, [torch.ones(shape) for shape in SHAPES])
    batched.load_state_dict(reference.state_dict())  # their momentum, into ours
    with torch.no_grad():
        for p, q in zip(ours, theirs):
            p.copy_(q)
    grads = [torch.full(shape, 0.5) for shape in SHAPES]
    for optimizer, params in ((reference, theirs), (batched, ours)):
        _step(optimizer, params, grads)
        unstepped = params[0].detach().clone()
        params[0].grad = None
        params[1].grad = torch.full(SHAPES[1], -1.0)
        optimizer.step()
        assert torch.equal(params[0], unstepped)
    for a, b in zip(theirs, ours):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-3)
    assert set(batched.state_dict()["state"][0]) == {"momentum_buffer"}


def test_the_per_matrix_rate_follows_torchs_rules():
    assert adjusted_lr(0.1, "match_rms_adamw", torch.Size([16, 64])) == pytest.approx(0.1 * 0.2 * 8)
    assert adjusted_lr(0.1, "original", torch.Size([64, 16])) == pytest.approx(0.2)
    assert adjusted_lr(0.1, None, torch.Size([16, 64])) == pytest.approx(0.1)
