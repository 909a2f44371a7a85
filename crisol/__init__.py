"""crisol, the library: everything the pipeline's stages share, and the `crisol` command.

    crisol/core/       the stage contract: params, the stage CLI, errors, atomic IO, executors,
                       progress, the data source, plots, deterministic splits and samples
    crisol/formats/    the artifacts stages exchange: Arrow schemas, document and token shards,
                       row files (a user's JSON/JSONL/Parquet), conversations, the tokenizer file
    crisol/model/      the transformer, KV caches, sampling, weights, transformers export/import
    crisol/training/   device, bf16, optimisers, learning-rate schedules
    crisol/chat/       the chat template (ids, loss mask, Jinja) and conversation turn rules
    crisol/grading/    answer grading and the gold oracle over the synthetic world
    crisol/facts/      closed-book fact probes over the synthetic world
    crisol/world/      synthetic-world helpers (names)
    crisol/serve/      `crisol serve` and `crisol chat`: the OpenAI-compatible server and the terminal chat

The runnable stages are in `stages/` (one package each, `python -m stages.<name>`), which import
this library and never each other; the orchestration is in `flows/`.
"""

from crisol.core.threads import share_cpu_politely

# Before anything imports torch (crisol/core/threads.py says why).
share_cpu_politely()
