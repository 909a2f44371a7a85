"""An exponential moving average of a model's weights (Polyak averaging), the model a run writes.

After optimiser step n, average <- average + (weights - average) * (1 - decay) / (1 - decay**n): the
exponentially weighted mean of the weights of steps 1..n, normalised as Adam normalises its moments,
so that no share of the initial weights is left in it however short the run (a plain
decay * average + (1 - decay) * weights started from them keeps decay**n of them: 13% after 1,000
steps at 0.998). After a few / (1 - decay) steps the two are the same. Late in a run the
live weights wander around the minimum that the data allows at the current rate; their average sits
nearer its centre. Measured on tinyshakespeare at 240 s (docs/results.md, 2026-12-07, sessions 34
and 35): 0.005-0.023 bits per character under the live weights of the same run, where no optimiser,
batch, rate, width or weight-decay setting moved the end by more than the seed does.

The average is kept in the parameters' dtype beside them (one more copy of the weights), keyed by
parameter name so that a checkpoint stores and restores it by name. Tied parameters appear once
(named_parameters deduplicates them), so the lm head follows its embedding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.names = [name for name, _ in model.named_parameters()]
        with torch.no_grad():  # the initial weights, until the first update replaces them whole
            self.tensors = [p.detach().clone() for _, p in model.named_parameters()]

    def _live(self, model: nn.Module) -> list[torch.Tensor]:
        params = list(model.named_parameters())
        if [name for name, _ in params] != self.names:
            raise ValueError("weight average: the model's parameters are not the ones it was made for")
        return [p.detach() for _, p in params]

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """The average after optimiser step `step` (1 for the first): its weights join with their share."""
        if step < 1:
            raise ValueError(f"weight average: steps count from 1, got {step}")
        weight = (1.0 - self.decay) / (1.0 - self.decay**step)
        torch._foreach_lerp_(self.tensors, self._live(model), weight)

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """The model with the averaged weights for the duration (evaluation, writing); the live ones after."""
        live = self._live(model)
        saved = [p.clone() for p in live]
        with torch.no_grad():
            torch._foreach_copy_(live, self.tensors)
        try:
            yield model
        finally:
            with torch.no_grad():
                torch._foreach_copy_(live, saved)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: t.detach().cpu() for name, t in zip(self.names, self.tensors)}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.names) - set(state))
        unexpected = sorted(set(state) - set(self.names))
        if missing or unexpected:
            raise ValueError(f"weight average: missing {missing[:3]}, unexpected {unexpected[:3]}")
        for name, tensor in zip(self.names, self.tensors):
            if state[name].shape != tensor.shape:
                raise ValueError(
                    f"weight average: {name} has shape {tuple(state[name].shape)}, not {tuple(tensor.shape)}"
                )
            tensor.copy_(state[name])
