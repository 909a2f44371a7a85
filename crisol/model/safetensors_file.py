"""Writing safetensors files byte for byte the same for the same tensors and metadata.

    save_tensors({"weight": w, "bias": b}, "model.safetensors", metadata={"format": "pt"})

safetensors' own writer (0.8.0) keeps the metadata in a Rust HashMap whose hash keys are random per
map, so a file with two or more metadata keys lists them in a different order from save to save:
the same weights hash differently and DVC reruns every stage after them. This writer lays the file
out as the library does (read back with safetensors' `load_file`/`safe_open` and transformers), with
the metadata's keys sorted:

    8 bytes     the header's length N, unsigned little-endian
    N bytes     the JSON header: {"__metadata__": {sorted str: str}, name: {"dtype", "shape",
                "data_offsets": [begin, end] into the data}, ...}, padded with spaces to a multiple of 8
    the data    each tensor's bytes, little-endian, row-major, back to back in the header's order

The tensors go in the library's order (wider dtypes first, then by name), which keeps every tensor
aligned to its element size and makes a file with at most one metadata key identical to the one
safetensors itself writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Mapping

import torch

# safetensors' dtype names, in the order its writer lays tensors out (its Dtype enum, widest first).
DTYPES: dict[torch.dtype, str] = {
    torch.uint64: "U64",
    torch.int64: "I64",
    torch.float64: "F64",
    torch.float32: "F32",
    torch.uint32: "U32",
    torch.int32: "I32",
    torch.bfloat16: "BF16",
    torch.float16: "F16",
    torch.uint16: "U16",
    torch.int16: "I16",
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_RANK = {dtype: rank for rank, dtype in enumerate(DTYPES)}


def _header_bytes(tensors: Mapping[str, torch.Tensor], names: list[str], metadata: Mapping[str, str] | None) -> bytes:
    """The JSON header for `tensors` stored in `names` order, space-padded to a multiple of 8 bytes
    (so the data, and with it every tensor, starts aligned)."""
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))} if metadata else {}
    offset = 0
    for name in names:
        tensor = tensors[name]
        size = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return raw + b" " * (-len(raw) % 8)


def save_tensors(
    tensors: Mapping[str, torch.Tensor], path: Path | str, metadata: Mapping[str, str] | None = None
) -> None:
    """Write `tensors` (any device, any layout) and the str -> str `metadata` to the safetensors
    file `path`; the same tensors and metadata always give the same bytes."""
    if sys.byteorder != "little":  # the format is little-endian; raw bytes would be wrong here
        raise RuntimeError("save_tensors writes tensors' raw bytes: only little-endian machines are supported")
    for name, tensor in tensors.items():
        if tensor.dtype not in DTYPES:
            raise ValueError(f"tensor {name}: dtype {tensor.dtype} has no safetensors name")
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"safetensors metadata is str -> str, got {key!r}: {value!r}")
    names = sorted(tensors, key=lambda name: (_RANK[tensors[name].dtype], name))
    header = _header_bytes(tensors, names, metadata)
    with open(path, "wb") as fh:
        fh.write(len(header).to_bytes(8, "little"))
        fh.write(header)
        for name in names:
            data = tensors[name].detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
            fh.write(data.numpy().data)
