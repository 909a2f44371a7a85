"""The auto/on/off switches: compile's auto is on with CUDA only, bf16's also on a CPU that
multiplies bf16 in hardware (AMX tiles or AVX512-BF16)."""

from __future__ import annotations

import pytest
import torch

from crisol.training import device as device_module
from crisol.training.device import bf16_switch, cpu_bf16, switch

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)
CHECKS = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")


@pytest.mark.parametrize("hardware", [True, False])
def test_bf16_auto_follows_the_cpus_bf16_hardware_and_is_on_with_cuda(monkeypatch, hardware):
    monkeypatch.setattr(device_module, "cpu_bf16", lambda: hardware)
    assert bf16_switch("auto", CPU) is hardware
    assert bf16_switch("auto", CUDA) is True
    assert bf16_switch("on", CPU) is True
    assert bf16_switch("off", CUDA) is False


def test_compile_auto_stays_off_on_cpu_whatever_the_cpu(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_bf16", lambda: True)
    assert switch("auto", CPU) is False
    assert switch("auto", CUDA) is True
    assert switch("on", CPU) is True


def test_bf16_hardware_check_reads_torchs_cpu_features(monkeypatch):
    assert cpu_bf16() == any(getattr(torch.cpu, name)() for name in CHECKS)
    for present in CHECKS:  # either feature is enough
        for name in CHECKS:
            monkeypatch.setattr(torch.cpu, name, lambda name=name: name == present, raising=False)
        assert cpu_bf16() is True
    for name in CHECKS:
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert cpu_bf16() is False
    for name in CHECKS:  # a torch build without the checks
        monkeypatch.delattr(torch.cpu, name)
    assert cpu_bf16() is False
