"""The stage's DVC out, written once at the end by rank 0, atomically:

<out>/model/     save_model: model.safetensors + config.json (our format)
<out>/hf/        export_hf: a transformers LlamaForCausalLM checkpoint with the tokenizer files
<out>/facts.json the last fact-probe score with examples right and wrong
<plots>/         train_loss.csv, validation.csv, lr.csv, facts.csv (step-indexed, for `dvc plots`;
                 a directory of its own, since DVC plots files cannot sit inside a cached out)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisol.core.atomic import atomic_dir, write_json
from crisol.core.plots import write_plots
from crisol.model.hf_export import export_hf
from crisol.model.transformer import Transformer
from crisol.model.weights import save_model

PLOTS = {
    "train_loss": ("step", "loss"),
    "validation": ("step", "loss", "bits_per_byte"),
    "lr": ("step", "lr"),
    "facts": ("step", "accuracy"),
}


def write_outputs(
    out: Path,
    plots: Path,
    model: Transformer,
    tokenizer_dir: Path,
    history: dict[str, list[dict[str, Any]]],
    facts: dict[str, Any] | None,
    metadata: dict[str, Any],
    eos_id: int,
) -> None:
    with atomic_dir(out) as tmp:
        save_model(model, tmp / "model", metadata=metadata)
        export_hf(model, tmp / "hf", tokenizer_dir=tokenizer_dir, eos_id=eos_id)
        if facts is not None:
            write_json(tmp / "facts.json", facts)
    write_plots(plots, PLOTS, history)
