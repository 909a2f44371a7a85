"""safetensors files byte-stable from process to process (issue 21: DVC saw changed models), and
laid out as the format says, so safetensors and transformers read them."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from crisol.model.safetensors_file import DTYPES, save_tensors
from kit.pretrain import run_subprocess

# Saves one model SAVES times with save_model, export_hf and save_reward_model, printing each file's
# hash. safetensors' metadata order changes from map to map, so several saves per process make an
# unstable writer all but certain to show (two keys: the same order 12 times running is 1 in 2048).
SAVES = 6
SAVE_AND_HASH = f"""
import hashlib, sys, tempfile
from pathlib import Path
import torch
from crisol.model import ModelConfig, Transformer, export_hf, save_model
from crisol.model.reward import RewardModel, save_reward_model

torch.manual_seed(0)
model = Transformer(ModelConfig.from_depth(1, 64, 16))
reward = RewardModel(model)
root = Path(tempfile.mkdtemp())
for i in range({SAVES}):
    save_model(model, root / f"m{{i}}", metadata={{"step": 3, "params": {{"b": 1, "a": 2}}}})
    export_hf(model, root / f"hf{{i}}", eos_id=1)
    save_reward_model(reward, root / f"r{{i}}")
    for path in (root / f"m{{i}}/model.safetensors", root / f"hf{{i}}/model.safetensors",
                 root / f"r{{i}}/model.safetensors", root / f"r{{i}}/reward_head.safetensors"):
        print(path.parent.name.rstrip("0123456789"), path.name, hashlib.sha256(path.read_bytes()).hexdigest())
"""


def hashes_in_a_fresh_process(hash_seed: str) -> dict[tuple[str, str], set[str]]:
    proc = run_subprocess([sys.executable, "-c", SAVE_AND_HASH], env={"PYTHONHASHSEED": hash_seed})
    assert proc.returncode == 0, proc.stderr
    found: dict[tuple[str, str], set[str]] = {}
    for line in proc.stdout.splitlines():
        kind, name, digest = line.split()
        found.setdefault((kind, name), set()).add(digest)
    return found


def test_the_same_model_saves_to_the_same_bytes_in_every_process():
    first, second = hashes_in_a_fresh_process("1"), hashes_in_a_fresh_process("2")
    assert sorted(first) == [
        ("hf", "model.safetensors"),
        ("m", "model.safetensors"),
        ("r", "model.safetensors"),
        ("r", "reward_head.safetensors"),
    ]
    unstable = {file: len(first[file] | second[file]) for file in first if len(first[file] | second[file]) > 1}
    assert not unstable, f"files with more than one hash over {2 * SAVES} saves: {unstable}"


def every_dtype() -> dict[str, torch.Tensor]:
    """One tensor per dtype (widths mixed, names not in layout order), a scalar, an empty and a
    transposed (non-contiguous) one."""
    generator = torch.Generator().manual_seed(0)
    tensors = {
        f"t{len(DTYPES) - i:02d}.{dtype}": (torch.randn(3, i % 3 + 1, generator=generator) * 4).to(dtype)
        for i, dtype in enumerate(DTYPES)
    }
    return {
        **tensors,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "transposed": torch.randn(4, 3, generator=generator).t(),
    }


def as_bytes(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.contiguous().reshape(-1).view(torch.uint8)  # float8 has no torch.equal


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}], ids=["no-metadata", "one-key"])
def test_with_at_most_one_metadata_key_the_bytes_are_safetensors_own(tmp_path, metadata):
    tensors = every_dtype()
    save_tensors(tensors, tmp_path / "x.safetensors", metadata)
    contiguous = {name: t.contiguous() for name, t in tensors.items()}
    assert (tmp_path / "x.safetensors").read_bytes() == save(contiguous, metadata=metadata)


def test_metadata_keys_are_sorted_and_everything_reads_back(tmp_path):
    tensors = every_dtype()
    metadata = {"z": "last", "format": "pt", "a": "é first"}
    save_tensors(tensors, tmp_path / "x.safetensors", metadata)
    raw = (tmp_path / "x.safetensors").read_bytes()
    length = int.from_bytes(raw[:8], "little")
    assert length % 8 == 0
    header = json.loads(raw[8 : 8 + length])
    assert list(header["__metadata__"]) == ["a", "format", "z"]
    loaded = load_file(tmp_path / "x.safetensors")
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape, name
        assert torch.equal(as_bytes(loaded[name]), as_bytes(tensor)), name
    with safe_open(tmp_path / "x.safetensors", "pt") as opened:
        assert opened.metadata() == metadata
    save_tensors(tensors, tmp_path / "y.safetensors", dict(reversed(metadata.items())))
    assert (tmp_path / "y.safetensors").read_bytes() == raw  # the caller's key order does not matter either


def test_what_safetensors_cannot_store_is_refused(tmp_path):
    with pytest.raises(ValueError, match="complex64"):
        save_tensors({"c": torch.zeros(2, dtype=torch.complex64)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="str -> str"):
        save_tensors({"a": torch.zeros(2)}, tmp_path / "x.safetensors", {"step": 3})  # type: ignore[dict-item]
