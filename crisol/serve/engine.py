"""Continuous batching: one thread per served model decodes every running request together,
one token per row per step, and requests join and leave the batch between steps.

    engine = Engine(model, max_batch=32)
    job = Job(prompt_ids, Sampling(max_tokens=64, temperature=0), deliver=callback)
    engine.submit(job)          # callback(Token(...)) per new token, then callback(Finish(...))

A step: admit waiting jobs into free rows (each prefilled alone, its first token sampled from the
prefill), drop cancelled rows, decode one token for every active row, deliver it, and free the rows
that finished. A client that disconnects cancels its job and its row is freed at the next step,
so throughput grows with the number of clients instead of serialising them (bench_serve.py).

Sampling is the project's (`sample_next`): temperature 0 is greedy; a job with a seed draws from
its own generator, so a seeded request is repeatable whatever else runs beside it. A job alone in
the batch runs exactly the operations `generate` runs, so its greedy reply is `generate`'s on the
same number of threads (`crisol serve` sets the count `generate` would: crisol/model/generation_threads.py).

Every model call happens on the engine's thread (scoring through `call` too): torch sees one
caller per model, and the event loop only moves text.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from crisol.model.kv_cache import KVCache
from crisol.model.sampling import sample_next
from crisol.model.slot_cache import SlotCache
from crisol.model.transformer import Transformer

log = logging.getLogger("crisol.serve")


class QueueFull(RuntimeError):
    """More requests are waiting than the server accepts (HTTP 429)."""


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop_ids: frozenset[int] = frozenset()
    seed: int | None = None
    logprobs: int | None = None  # report the chosen token's logprob and this many alternatives


@dataclass(frozen=True)
class Token:
    id: int
    logprob: float | None = None
    top: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class Finish:
    reason: str  # stop | length | cancelled | error
    generated: int  # tokens the model produced (a closing stop token included)
    error: str | None = None


@dataclass(eq=False)
class Job:
    """One sequence to generate; `deliver` is called on the engine thread with each Token, then one Finish."""

    prompt: list[int]
    sampling: Sampling
    deliver: Callable[[Token | Finish], None]
    generated: int = 0
    cancelled: bool = False
    generator: torch.Generator | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.sampling.seed is not None:
            self.generator = torch.Generator().manual_seed(self.sampling.seed)

    def cancel(self) -> None:
        """Thread-safe: the engine frees the job's row at its next step."""
        self.cancelled = True


class Engine:
    def __init__(self, model: Transformer, *, max_batch: int = 32, max_queue: int = 256, name: str = "model"):
        self.model = model.eval()
        self.max_batch, self.max_queue, self.name = max_batch, max_queue, name
        self.cache = SlotCache(model, max_batch)
        self._rows: list[Job] = []  # job of cache row i
        self._next: list[int] = []  # the token row i feeds into the next step
        self._waiting: collections.deque[Job] = collections.deque()
        self._calls: collections.deque[tuple[Callable, Future]] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self.steps = 0
        self._thread = threading.Thread(target=self._run, name=f"crisol-engine-{name}", daemon=True)
        self._thread.start()

    # --- the event loop's side -------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._wake:
            if self._closing:
                raise QueueFull(f"model {self.name!r} is shutting down")
            if len(self._waiting) >= self.max_queue:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting for {self.name!r}")
            self._waiting.append(job)
            self._wake.notify()

    def call(self, fn: Callable[[], object]) -> Future:
        """Run fn() on the engine thread between two steps (model calls outside generation)."""
        future: Future = Future()
        with self._wake:
            if self._closing:
                raise QueueFull(f"model {self.name!r} is shutting down")
            self._calls.append((fn, future))
            self._wake.notify()
        return future

    def load(self) -> dict[str, int]:
        """Rows decoding, requests waiting for one, and decode steps run so far."""
        with self._wake:
            return {"running": len(self._rows), "waiting": len(self._waiting), "steps": self.steps}

    def close(self, timeout: float | None = None) -> None:
        """Finish what is running and waiting, then stop the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)

    # --- the engine thread -----------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._wake:
                    while not (self._waiting or self._calls or self._rows or self._closing):
                        self._wake.wait()
                    if self._closing and not (self._waiting or self._calls or self._rows):
                        return
                    calls, self._calls = list(self._calls), collections.deque()
                    free = self.max_batch - len(self._rows)
                    joining = [self._waiting.popleft() for _ in range(min(free, len(self._waiting)))]
                for fn, future in calls:
                    self._run_call(fn, future)
                for job in joining:
                    try:
                        self._join(job)
                    except Exception as exc:  # this request fails, the others go on
                        log.exception("engine %s: prefill failed", self.name)
                        job.deliver(Finish("error", job.generated, f"{exc.__class__.__name__}: {exc}"))
                try:
                    self._drop_cancelled()
                    if self._rows:
                        self._step()
                except Exception as exc:  # a bug must not take the server down: fail these jobs, go on
                    log.exception("engine %s: step failed", self.name)
                    self._fail_all(f"{exc.__class__.__name__}: {exc}")

    @staticmethod
    def _run_call(fn: Callable, future: Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to the awaiting request, which answers for it
            future.set_exception(exc)

    def _join(self, job: Job) -> None:
        if job.cancelled:
            job.deliver(Finish("cancelled", 0))
            return
        if job.sampling.max_tokens == 0:
            job.deliver(Finish("length", 0))
            return
        prefill = KVCache.for_model(self.model, 1, len(job.prompt))
        ids = torch.tensor([job.prompt], dtype=torch.long, device=self.cache.device)
        hidden = self.model.hidden_states(ids, cache=prefill)
        logits = self.model.lm_head(hidden[:, -1]).float()
        token = self._choose(job, logits[0])
        if self._finished(job, token, room=self.cache.max_len - len(job.prompt)):
            return
        self.cache.add(prefill)
        self._rows.append(job)
        self._next.append(token)

    def _step(self) -> None:
        ids = torch.tensor(self._next, dtype=torch.long, device=self.cache.device)[:, None]
        hidden = self.model.hidden_states(ids, cache=self.cache.step_view())
        logits = self.model.lm_head(hidden[:, -1]).float()
        greedy = logits.argmax(dim=-1).tolist()
        self.steps += 1
        done = []
        for row, job in enumerate(self._rows):
            token = self._choose(job, logits[row], greedy[row])
            if self._finished(job, token, room=self.cache.room(row)):
                done.append(row)
            else:
                self._next[row] = token
        for row in reversed(done):
            self._free(row)

    @staticmethod
    def _choose(job: Job, logits: torch.Tensor, greedy: int | None = None) -> int:
        """One token for `job` from its logits [V] (`greedy`: their argmax, when already known),
        counted and delivered (a stop token is not delivered: it only ends the reply)."""
        s = job.sampling
        if s.temperature == 0 and greedy is not None:
            token = greedy
        else:
            token = int(sample_next(logits[None], s.temperature, None, s.top_p, job.generator)[0])
        job.generated += 1
        if token in s.stop_ids:
            return token
        if s.logprobs is None:
            job.deliver(Token(token))
        else:
            logprobs = torch.log_softmax(logits, dim=-1)
            top = torch.topk(logprobs, min(s.logprobs, logprobs.shape[-1])) if s.logprobs else None
            job.deliver(
                Token(
                    token,
                    float(logprobs[token]),
                    tuple(zip(top.indices.tolist(), top.values.tolist())) if top is not None else (),
                )
            )
        return token

    @staticmethod
    def _finished(job: Job, token: int, room: int) -> bool:
        """Deliver the Finish of a job that ends with `token`; True when it did."""
        if token in job.sampling.stop_ids:
            job.deliver(Finish("stop", job.generated))
        elif job.generated >= job.sampling.max_tokens or room <= 0 or job.cancelled:
            job.deliver(Finish("cancelled" if job.cancelled else "length", job.generated))
        else:
            return False
        return True

    def _free(self, row: int) -> None:
        moved = self.cache.remove(row)
        if moved is not None:
            self._rows[row], self._next[row] = self._rows[moved], self._next[moved]
        self._rows.pop()
        self._next.pop()

    def _drop_cancelled(self) -> None:
        for row in reversed(range(len(self._rows))):
            job = self._rows[row]
            if job.cancelled:
                job.deliver(Finish("cancelled", job.generated))
                self._free(row)

    def _fail_all(self, message: str) -> None:
        for job in self._rows:
            job.deliver(Finish("error", job.generated, message))
        self._rows, self._next = [], []
        self.cache = SlotCache(self.model, self.max_batch)
