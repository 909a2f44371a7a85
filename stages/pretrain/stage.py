"""The pretrain stage:

token shards ──(WindowSampler)──> Trainer (AdamW, accumulation, clipping, bf16/compile on GPU,
                                  DDP/FSDP under torchrun) ──> checkpoints in <checkpoint_dir>/<profile>
                                  every checkpoint_every steps; a rerun resumes from the latest
             ──(every eval_every)──> validation loss / bits per byte, fact completion (of the
                                     weight average when pretrain.ema is on: the model written)
             ──(end, rank 0)──> <out>/model, <out>/hf, <plots>/*.csv, metrics
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.distributed as dist

from crisol.core.cli import StageContext
from crisol.facts import ProbeSet, probe_set
from crisol.formats.tokenizer_file import token_byte_lengths
from crisol.model.transformer import Transformer
from stages.pretrain.accounting import accounting
from stages.pretrain.distributed import Dist, barrier, setup, teardown
from stages.pretrain.evaluate import ValidationSet, unigram_bits_per_byte, validation_set
from stages.pretrain.inputs import Inputs, load_inputs, train_urls
from stages.pretrain.outputs import write_outputs
from stages.pretrain.params import PretrainParams
from stages.pretrain.trainer import Trainer


def run(ctx: StageContext) -> None:
    """Pretrain a Llama-style transformer on the token shards; resumable, distributed under torchrun."""
    params: PretrainParams = ctx.params
    started = time.perf_counter()
    if params.threads:
        torch.set_num_threads(params.threads)
    d = setup(params.device)
    try:
        ctx.metrics.update(_train(ctx, params, d))
    finally:
        teardown()
    ctx.metrics["run_seconds"] = round(time.perf_counter() - started, 3)


def _train(ctx: StageContext, params: PretrainParams, d: Dist) -> dict[str, Any]:
    """Set up, train (resuming from a checkpoint if any), and on rank 0 write the outputs; every
    rank returns rank 0's metrics."""
    inputs = load_inputs(params.train, params.validation, params.tokenizer)
    validation = validation_set(
        inputs.validation, params.seq_len, params.eval_tokens, token_byte_lengths(inputs.tokenizer)
    )
    parts, probes, probe_summary = _fact_probes(ctx, params, inputs)
    trainer = Trainer(params, inputs, d, params.checkpoint_dir / ctx.profile, ctx.log, validation, probes)
    _log_model(ctx, params, d, trainer)
    trainer.resume()
    trainer.run()
    # Under FSDP gathering the full model is collective: every rank calls it, only rank 0 writes.
    final = trainer.full_model()
    metrics: dict[str, Any] = {}
    if d.is_main:
        metrics = _finish(ctx, params, d, inputs, trainer, final, validation, parts, probe_summary)
    barrier(d)
    if dist.is_initialized():
        # Every rank's cli writes metrics.json after run(): they all write rank 0's.
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        metrics = shared[0]
    return metrics


def _fact_probes(
    ctx: StageContext, params: PretrainParams, inputs: Inputs
) -> tuple[dict[str, Any], ProbeSet | None, dict[str, Any] | None]:
    """The metrics' parts entry, the probes to score during training (None: none) and their summary."""
    probes, probe_summary = None, None
    # Fact probes read the synthetic world's ground truth: never with a user's own data.
    parts = {
        "fact_probes": ctx.source.not_run("fact probes")
        if not ctx.source.has_world
        else {"ran": bool(params.fact_probes), **({} if params.fact_probes else {"why": "pretrain.fact_probes is 0"})}
    }
    if params.fact_probes and ctx.source.has_world:
        probes = probe_set(
            params.facts,
            params.pages,
            limit=params.fact_probes,
            seed=params.fact_seed,
            seen_urls=train_urls(inputs.train, params.documents),
        )
        probe_summary = probes.summary()
        probe_summary.pop("templates", None)
        if not probes.probes:
            ctx.log.warning(
                "pretrain: no fact probes from %s for the trained pages; fact accuracy not measured", params.facts
            )
    return parts, probes, probe_summary


def _log_model(ctx: StageContext, params: PretrainParams, d: Dist, trainer: Trainer) -> None:
    config = trainer.config
    ctx.log.info(
        "pretrain: %s params (%s non-embedding), depth %d, d_model %d, on %s x%d; %d steps of %d tokens%s",
        f"{config.num_params():,}",
        f"{config.num_params(non_embedding=True):,}",
        config.depth,
        config.d_model,
        d.device,
        d.world,
        params.max_steps,
        trainer.global_batch * params.seq_len,
        f", or {params.max_seconds:g} s of training if sooner" if params.max_seconds else "",
    )


def _finish(
    ctx: StageContext,
    params: PretrainParams,
    d: Dist,
    inputs: Inputs,
    trainer: Trainer,
    final: Transformer,
    validation: ValidationSet,
    parts: dict[str, Any],
    probe_summary: dict[str, Any] | None,
) -> dict[str, Any]:
    """Rank 0 only: the metrics, the model and plots written, and a one-line summary logged."""
    progress, history = trainer.progress, trainer.history
    tokens = progress.step * trainer.global_batch * params.seq_len
    unigram = unigram_bits_per_byte(inputs.train, validation, inputs.vocab_size)
    metrics = _metrics(params, d, trainer, validation, tokens, unigram, parts, probe_summary)
    write_outputs(
        params.out,
        params.plots,
        final,
        params.tokenizer,
        history.to_dict(),
        progress.last_facts,
        {
            "params": ctx.params_dict(),
            "tokenizer_sha256": inputs.tokenizer_sha256,
            "steps": progress.step,
            "tokens": tokens,
        },
        inputs.eos_id,
    )
    ctx.log.info(
        "pretrain: %d steps, %s tokens; validation %.4f bits/byte (unigram %.4f); facts %s",
        progress.step,
        f"{tokens:,}",
        history.validation[-1]["bits_per_byte"],
        unigram,
        f"{progress.last_facts['accuracy']:.1%}" if progress.last_facts else "not measured",
    )
    return metrics


def _metrics(
    params: PretrainParams,
    d: Dist,
    trainer: Trainer,
    validation: ValidationSet,
    tokens: int,
    unigram: float,
    parts: dict[str, Any],
    probe_summary: dict[str, Any] | None,
) -> dict[str, Any]:
    config, progress, history = trainer.config, trainer.progress, trainer.history
    last_val = history.validation[-1]
    return {
        "parameters": config.num_params(),
        "parameters_non_embedding": config.num_params(non_embedding=True),
        "model": {k: getattr(config, k) for k in ("depth", "d_model", "n_heads", "n_kv_heads", "vocab_size")},
        "steps": progress.step,
        "max_seconds": params.max_seconds,
        "stopped_by": "max_steps" if progress.step >= params.max_steps else "max_seconds",
        "seq_len": params.seq_len,
        "global_batch_sequences": trainer.global_batch,
        "resumed_from_step": progress.resumed_from,
        "sized_by": None if params.size_from is None else str(params.size_from),
        **accounting(
            device=d.device,
            world=d.world,
            flops_per_token=config.flops_per_token(params.seq_len),
            tokens=tokens,
            train_seconds=progress.train_seconds,
            cpu_watts_per_core=params.cpu_watts_per_core,
        ),
        "wall_seconds": round(progress.wall_seconds, 3),
        "bf16": trainer.bf16,
        "compiled": trainer.forward is not trainer.wrapped,
        "fsdp": params.fsdp,
        "train_loss": history.train_loss[-1]["loss"] if history.train_loss else None,
        "validation": {
            "loss": last_val["loss"],
            "bits_per_byte": last_val["bits_per_byte"],
            "unigram_bits_per_byte": round(unigram, 5),
            "tokens": validation.tokens,
            "bytes": validation.bytes,
            # With pretrain.ema the figures above are the averaged weights' (the written model's).
            **({k: last_val[k] for k in ("live_loss", "live_bits_per_byte")} if "live_loss" in last_val else {}),
        },
        "ema": params.ema,
        "facts": _facts_metrics(progress.last_facts, history.facts, probe_summary),
        "parts": parts,
    }


def _facts_metrics(
    last: dict[str, Any] | None, curve: list[dict[str, float]], summary: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The headline figures (per relation and examples are in <out>/facts.json, the curve in plots)."""
    if last is None:
        return None
    reached = next((point["step"] for point in curve if point["accuracy"] >= 0.9), None)
    return {
        "accuracy": last["accuracy"],
        "correct": last["correct"],
        "total": last["total"],
        "chance": last["chance"],
        "first_step_at_90pct": reached,
        "facts_read": summary["facts"] if summary else None,
        "probes_available": (summary["probes"] + summary["sampled_out"]) if summary else None,
    }
