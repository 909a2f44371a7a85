"""The stage's DVC out, written once at the end, atomically:

<out>/model/            save_model: the fine-tuned weights + config.json (our format)
<out>/hf/               export_chat_model: LlamaForCausalLM + tokenizer files whose tokenizer_config.json
                        carries the chat template (apply_chat_template gives our ids), and a
                        generation_config that stops at <|end|> as well as <|eos|>
<out>/examples.parquet  every example trained, validated and tested on (sft_examples schema):
                        later stages ask the held-out questions from here
<out>/evaluation.json   every held-out question with the SFT model's reply and the base
                        model's few-shot reply, graded
<plots>/                train_loss.csv, validation_loss.csv, validation_exact_match.csv, lr.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisol.chat.hf_template import export_chat_model
from crisol.chat.template import ChatTemplate
from crisol.core.atomic import atomic_dir, write_json
from crisol.core.plots import write_plots
from crisol.formats.conversations import Example, write_examples
from crisol.model.transformer import Transformer
from crisol.model.weights import save_model

# One curve per file: a DVC plot's y is one column.
PLOTS = {
    "train_loss": ("step", "loss"),
    "validation_loss": ("step", "loss"),
    "validation_exact_match": ("step", "exact_match"),
    "lr": ("step", "lr"),
}


def write_outputs(
    out: Path,
    plots: Path,
    model: Transformer,
    template: ChatTemplate,
    tokenizer_dir: Path,
    examples: list[Example],
    evaluation: dict[str, Any],
    history: dict[str, list[dict[str, Any]]],
    metadata: dict[str, Any],
) -> None:
    with atomic_dir(out) as tmp:
        save_model(model, tmp / "model", metadata=metadata)
        export_chat_model(model, tmp / "hf", tokenizer_dir, template)
        write_examples(tmp / "examples.parquet", examples, metadata.get("params"))
        write_json(tmp / "evaluation.json", evaluation)
    write_plots(plots, PLOTS, history)
