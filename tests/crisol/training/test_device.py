"""The auto/on/off switches: compile's auto is on with CUDA only, bf16's also on a CPU with AMX tiles."""

from __future__ import annotations

import pytest
import torch

from crisol.training import device as device_module
from crisol.training.device import amx_bf16, bf16_switch, switch

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)


@pytest.mark.parametrize("amx", [True, False])
def test_bf16_auto_follows_amx_on_cpu_and_is_on_with_cuda(monkeypatch, amx):
    monkeypatch.setattr(device_module, "amx_bf16", lambda: amx)
    assert bf16_switch("auto", CPU) is amx
    assert bf16_switch("auto", CUDA) is True
    assert bf16_switch("on", CPU) is True
    assert bf16_switch("off", CUDA) is False


def test_compile_auto_stays_off_on_cpu_whatever_the_cpu(monkeypatch):
    monkeypatch.setattr(device_module, "amx_bf16", lambda: True)
    assert switch("auto", CPU) is False
    assert switch("auto", CUDA) is True
    assert switch("on", CPU) is True


def test_amx_check_reads_torchs_cpu_features(monkeypatch):
    assert amx_bf16() == torch.cpu._is_amx_tile_supported()
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch build without the check
    assert amx_bf16() is False
