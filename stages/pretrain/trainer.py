"""The training loop: sampled windows -> forward/backward with accumulation -> clip -> optimiser step,
with evaluations and checkpoints at fixed steps, resuming from the run's latest checkpoint.

What a step does is a function of the step number and the restored state only (learning rate from
the schedule, windows from the checkpointed generator), so a run killed and resumed ends with the
weights an uninterrupted run ends with. Under a time budget (pretrain.max_seconds) the clock also
decides: when the run stops and how far the decay is, from the training seconds so far, which
checkpoints keep, so a resumed run goes on where it stopped (but no two such runs are identical).
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from crisol.core.errors import StageInputError
from crisol.facts import ProbeSet
from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer
from crisol.training.device import autocast, bf16_switch, switch
from crisol.training.optim import build_optimizer, set_lr
from crisol.training.schedule import learning_rate
from crisol.training.weight_average import WeightAverage
from crisol.training.windows import GlobalBatches, WindowSampler
from stages.pretrain import checkpoint
from stages.pretrain.distributed import Dist, all_max, all_mean, barrier, wrap
from stages.pretrain.evaluate import ValidationSet, fact_accuracy, validation_loss
from stages.pretrain.inputs import Inputs
from stages.pretrain.params import PretrainParams


@dataclass
class History:
    """Curves for the DVC plots; kept in checkpoints so a resumed run plots the whole run."""

    train_loss: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    lr: list[dict[str, float]] = field(default_factory=list)
    facts: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"train_loss": self.train_loss, "validation": self.validation, "lr": self.lr, "facts": self.facts}


@dataclass
class Progress:
    step: int = 0
    train_seconds: float = 0.0  # optimiser work only, summed over every resumed run
    wall_seconds: float = 0.0  # whole runs, summed
    resumed_from: int | None = None
    last_facts: dict[str, Any] | None = None


class Trainer:
    def __init__(
        self,
        params: PretrainParams,
        inputs: Inputs,
        d: Dist,
        run_dir: Path,
        log: logging.Logger,
        validation: ValidationSet,
        probes: ProbeSet | None,
    ):
        self.p, self.inputs, self.d, self.run_dir, self.log = params, inputs, d, run_dir, log
        self.validation, self.probes = validation, probes
        self.bf16 = bf16_switch(params.bf16, d.device)
        torch.manual_seed(params.seed)
        self.config = ModelConfig.from_depth(
            params.model.depth, inputs.vocab_size, params.seq_len, **params.model.overrides()
        )
        self.model = Transformer(self.config).to(d.device)
        self.wrapped = wrap(self.model, d, params.fsdp)
        self.forward = torch.compile(self.wrapped) if switch(params.compile, d.device) else self.wrapped
        self.optimizer = build_optimizer(
            self.model,
            params.optimizer,
            lr=params.lr,
            weight_decay=params.weight_decay,
            betas=(params.beta1, params.beta2),
            device=d.device,
            muon_lr_scale=params.muon_lr_scale,
        )
        self.sampler = WindowSampler(inputs.train, params.seq_len, params.seed)
        self.batches = GlobalBatches(self.sampler, params.batch_size, params.grad_accum, d.rank, d.world)
        self.average = WeightAverage(self.model, params.ema) if params.ema else None
        self.history = History()
        self.progress = Progress()

    # -- identity of the run -------------------------------------------------------------------
    @property
    def global_batch(self) -> int:
        return self.p.batch_size * self.p.grad_accum * self.d.world

    def fingerprint(self) -> dict[str, Any]:
        p = self.p
        return {
            "model": self.config.to_dict(),
            "tokenizer_sha256": self.inputs.tokenizer_sha256,
            "train_tokens": self.inputs.train.manifest.tokens,
            "seq_len": p.seq_len,
            "global_batch": self.global_batch,
            "seed": p.seed,
            "max_steps": p.max_steps,
            "max_seconds": p.max_seconds,
            "lr": p.lr,
            "min_lr_ratio": p.min_lr_ratio,
            "warmup_steps": p.warmup_steps,
            "decay": p.decay,
            "weight_decay": p.weight_decay,
            "betas": [p.beta1, p.beta2],
            "grad_clip": p.grad_clip,
            "bf16": self.bf16,
            # Named only for Muon, so that AdamW runs checkpointed before the option still resume.
            **({"optimizer": "muon", "muon_lr_scale": p.muon_lr_scale} if p.optimizer == "muon" else {}),
            **({"ema": p.ema} if p.ema else {}),
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def resume(self) -> None:
        """Continue from the run directory's latest checkpoint, if it belongs to this run."""
        if self.d.is_main:
            for stale in self.run_dir.glob(".tmp-*"):  # a checkpoint write that a kill interrupted
                shutil.rmtree(stale, ignore_errors=True)
        barrier(self.d)
        found = checkpoint.latest(self.run_dir)
        if found is None:
            return
        differences = checkpoint.fingerprint_differences(found.state["fingerprint"], self.fingerprint())
        if differences:
            what = "; ".join(differences[:3]) + (" ..." if len(differences) > 3 else "")
            if self.p.on_incompatible_checkpoint == "error":
                raise StageInputError(
                    f"{found.path}: checkpoint of another run ({what}); delete {self.run_dir} "
                    f"or set pretrain.on_incompatible_checkpoint=restart"
                )
            self.log.warning("pretrain: ignoring incompatible checkpoint %s (%s); starting over", found.path, what)
            barrier(self.d)
            if self.d.is_main:
                checkpoint.clear(self.run_dir)
            barrier(self.d)
            return
        average = checkpoint.restore(found, self.model, self.optimizer, self.config.tie_embeddings)
        if self.average is not None:
            try:
                self.average.load_state_dict(average)
            except ValueError as exc:
                raise StageInputError(f"{found.path}: {exc}") from None
        state = found.state
        self.sampler.load_state(state["loader"])
        self.history = History(**state["history"])
        self.progress = Progress(
            step=found.step,
            train_seconds=state["train_seconds"],
            wall_seconds=state["wall_seconds"],
            resumed_from=found.step,
            last_facts=state.get("last_facts"),
        )
        self.log.info("pretrain: resumed from %s (step %d of %d)", found.path, found.step, self.p.max_steps)

    def save_checkpoint(self, wall_seconds: float) -> None:
        model_state, optim_state = checkpoint.gather(self.model, self.optimizer)
        if self.d.is_main:
            state = {
                "fingerprint": self.fingerprint(),
                "tied": self.config.tie_embeddings,
                "loader": self.sampler.state(),
                "history": self.history.to_dict(),
                "train_seconds": self.progress.train_seconds,
                "wall_seconds": wall_seconds,
                "last_facts": self.progress.last_facts,
            }
            path = checkpoint.save(
                self.run_dir,
                self.progress.step,
                model_state,
                optim_state,
                state,
                self.p.keep_checkpoints,
                average=self.average.state_dict() if self.average else None,
            )
            self.log.info("pretrain: checkpoint %s", path)
        barrier(self.d)

    def _written_weights(self) -> contextlib.AbstractContextManager:
        """The weights that are the model: the average when pretrain.ema is on, else the live ones."""
        return self.average.swapped_in(self.model) if self.average else contextlib.nullcontext()

    def full_model(self) -> Transformer:
        """An unsharded CPU copy of the trained model (every rank must call it under FSDP)."""
        final = Transformer(self.config)
        with self._written_weights():  # the gathered tensors may be the parameters themselves: copy inside
            model_state, _ = checkpoint.gather(self.model, self.optimizer)
            final.load_state_dict(model_state, strict=False)
        return final

    # -- one optimiser step --------------------------------------------------------------------
    def _sync_context(self, last: bool) -> contextlib.AbstractContextManager:
        if self.p.fsdp:
            self.wrapped.set_requires_gradient_sync(last)
        elif self.d.world > 1 and not last:
            return self.wrapped.no_sync()
        return contextlib.nullcontext()

    def train_step(self) -> torch.Tensor:
        micro = self.batches.next_step()
        total = torch.zeros((), device=self.d.device)
        for i, (x, y) in enumerate(micro):
            x = x.to(self.d.device, non_blocking=True)
            y = y.to(self.d.device, non_blocking=True)
            with self._sync_context(i == len(micro) - 1), autocast(self.d.device, self.bf16):
                _, loss = self.forward(x, y)
                (loss / len(micro)).backward()
            total += loss.detach()
        if self.p.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.p.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.average is not None:
            self.average.update(self.model, self.progress.step + 1)  # the step this one completes
        return total / len(micro)

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        """The rate for `step`, `seconds` into training (the decay's clock under max_seconds)."""
        p = self.p
        return learning_rate(
            step,
            peak=p.lr,
            warmup=p.warmup_steps,
            total=p.max_steps,
            floor_ratio=p.min_lr_ratio,
            decay=p.decay,
            time_fraction=seconds / p.max_seconds if p.max_seconds else 0.0,
        )

    # -- the time budget -----------------------------------------------------------------------
    def out_of_time(self, seconds: float) -> bool:
        return self.p.max_seconds is not None and seconds >= self.p.max_seconds

    def clock(self, segment: float) -> float:
        """Training seconds so far, the current segment (begun at `segment`) included; the largest
        over ranks, so that all stop at the same step with the same rate. 0 without a time budget,
        which needs no clock (and no collective per step)."""
        if self.p.max_seconds is None:
            return 0.0
        return all_max(self.progress.train_seconds + time.perf_counter() - segment, self.d, self.d.device)

    # -- evaluation ----------------------------------------------------------------------------
    def _validation(self) -> dict[str, float]:
        val = validation_loss(self.model, self.validation, self.p.batch_size, self.d.device, self.bf16)
        return {"loss": round(val["loss"], 5), "bits_per_byte": round(val["bits_per_byte"], 5)}

    def evaluate(self) -> None:
        """Score the model the run would write now; with a weight average, the live weights' validation
        figures go beside (live_loss, live_bits_per_byte), the average's gain is their difference."""
        step = self.progress.step
        live = self._validation() if self.average else None
        with self._written_weights():
            val = self._validation()
            entry = {"step": step, **val}
            message = f"validation loss {val['loss']:.4f}, {val['bits_per_byte']:.4f} bits/byte"
            if live:
                entry.update(live_loss=live["loss"], live_bits_per_byte=live["bits_per_byte"])
                message += f" (averaged weights; live {live['loss']:.4f}, {live['bits_per_byte']:.4f})"
            if self.probes and self.probes.probes:
                facts = fact_accuracy(self.model, self.inputs.tokenizer, self.probes, self.inputs.eos_id)
                self.progress.last_facts = facts
                self.history.facts.append({"step": step, "accuracy": facts["accuracy"]})
                message += f", facts {facts['accuracy']:.1%} of {facts['total']}"
        self.history.validation.append(entry)
        self.log.info("pretrain: step %d: %s", step, message)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> None:
        p, d = self.p, self.d
        started = time.perf_counter()
        wall_before = self.progress.wall_seconds
        if self.progress.step == 0 and not self.history.validation:
            self.evaluate()
        window_loss = torch.zeros((), device=d.device)
        window_steps = 0
        segment = time.perf_counter()
        seconds = self.progress.train_seconds  # a checkpoint's: the same on every rank
        while self.progress.step < p.max_steps and not self.out_of_time(seconds):
            lr = self.lr_at(self.progress.step, seconds)
            set_lr(self.optimizer, lr)
            window_loss += self.train_step()
            window_steps += 1
            self.progress.step += 1
            step = self.progress.step
            seconds = self.clock(segment)
            last = step == p.max_steps or self.out_of_time(seconds)  # a run stopped by the clock ends here too
            logging_now = step % p.log_every == 0 or last
            evaluating = step % p.eval_every == 0 or last
            saving = step % p.checkpoint_every == 0 or last
            if not (logging_now or evaluating or saving):
                continue
            if d.device.type == "cuda":
                torch.cuda.synchronize()
            now = time.perf_counter()
            self.progress.train_seconds += now - segment
            if logging_now:
                loss = all_mean(float(window_loss) / window_steps, d, d.device)
                if not math.isfinite(loss):
                    raise RuntimeError(f"pretrain: training loss is {loss} at step {step}; lower pretrain.lr")
                self.history.train_loss.append({"step": step, "loss": round(loss, 5)})
                self.history.lr.append({"step": step, "lr": lr})
                tokens = step * self.global_batch * p.seq_len
                self.log.info(
                    "pretrain: step %d/%d loss %.4f lr %.2e, %.0f tokens/s",
                    step,
                    p.max_steps,
                    loss,
                    lr,
                    tokens / self.progress.train_seconds if self.progress.train_seconds else 0,
                )
                window_loss.zero_()
                window_steps = 0
            if evaluating:
                self.evaluate()
            if saving:
                self.save_checkpoint(wall_before + time.perf_counter() - started)
            segment = time.perf_counter()
            seconds = self.clock(segment)
        self.progress.wall_seconds = wall_before + time.perf_counter() - started
