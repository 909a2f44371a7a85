"""The weight average: the recurrence by hand, the swap in and back, its state by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crisol.training.weight_average import WeightAverage


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))


def _step(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(value)


def test_the_average_is_the_normalised_exponentially_weighted_mean_of_the_steps_weights():
    model = _model()
    average = WeightAverage(model, decay=0.9)
    seen = []
    for step, value in enumerate((1.0, -0.5, 2.0), start=1):
        _step(model, value)
        average.update(model, step)
        seen.append([p.detach().clone() for p in model.parameters()])
    # By hand: weights 0.9**(n - k) over steps k = 1..n, normalised; the initial weights have no share.
    shares = [0.9**2, 0.9, 1.0]
    for i, name in enumerate(average.names):
        expected = sum(s * w[i] for s, w in zip(shares, seen)) / sum(shares)
        torch.testing.assert_close(average.state_dict()[name], expected)


def test_after_the_first_step_the_average_is_that_steps_weights():
    model = _model()
    average = WeightAverage(model, decay=0.999)
    _step(model, 5.0)
    average.update(model, 1)
    for name, p in model.named_parameters():
        torch.testing.assert_close(average.state_dict()[name], p.detach())
    with pytest.raises(ValueError, match="from 1"):
        average.update(model, 0)


def test_swapped_in_scores_the_average_and_restores_the_live_weights_exactly():
    model = _model()
    average = WeightAverage(model, decay=0.5)
    _step(model, 1.0)
    average.update(model, 1)
    _step(model, 1.0)
    average.update(model, 2)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    with average.swapped_in(model):
        for name, p in model.named_parameters():
            torch.testing.assert_close(p, average.state_dict()[name])
            assert not torch.equal(p, live[name])
    for k, v in model.state_dict().items():
        assert torch.equal(v, live[k])


def test_state_round_trips_by_name_and_a_foreign_state_is_refused():
    model = _model()
    average = WeightAverage(model, decay=0.99)
    _step(model, 3.0)
    average.update(model, 1)
    other = WeightAverage(_model(seed=1), decay=0.99)
    other.load_state_dict(average.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(average.tensors, other.tensors))
    with pytest.raises(ValueError, match="missing"):
        other.load_state_dict({})
    bad = {**average.state_dict(), "0.weight": torch.zeros(5, 5)}
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(bad)


def test_tied_parameters_are_averaged_once():
    model = _model()
    model[1].weight = nn.Parameter(torch.zeros(2, 3))
    model.add_module("head", nn.Linear(3, 2, bias=False))
    model.head.weight = model[1].weight  # tied, like the lm head to the embedding
    average = WeightAverage(model, decay=0.9)
    assert "head.weight" not in average.names and "1.weight" in average.names


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_a_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_model(), decay=decay)
