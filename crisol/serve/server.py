"""The server's state: the served models, each with its engine, the limits, and reloading.

A model is reloaded when what its name points at changes: the registry promotes another version
(production.json), or a stage rewrites the weights. `reload()` re-resolves every name, loads what
changed, swaps it in for new requests and lets the old engine finish the requests it is running.
The app calls it on SIGHUP and from a watcher that polls every few seconds (`--watch`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from crisol.serve.catalog import CatalogError, ModelSpec, ServedModel, load, locate
from crisol.serve.engine import Engine

log = logging.getLogger("crisol.serve")


@dataclass(frozen=True)
class Limits:
    max_batch: int = 32  # rows decoded together per model
    max_queue: int = 256  # requests waiting for a row, per model, before 429
    max_tokens: int = 1024  # per choice
    max_n: int = 8  # choices per request
    max_prompts: int = 64  # prompts in one /v1/completions request
    max_body_bytes: int = 4 << 20  # request body


def fingerprint(spec: ModelSpec) -> tuple[str, int]:
    """What a name points at now: the weights' directory and their modification time."""
    weights, _, _ = locate(spec.path)
    return str(weights.resolve()), (weights / "model.safetensors").stat().st_mtime_ns


@dataclass
class Slot:
    served: ServedModel
    engine: Engine
    fingerprint: tuple[str, int]


class Server:
    def __init__(self, resolve: Callable[[], list[ModelSpec]], limits: Limits = Limits(), api_key: str | None = None):
        self.resolve, self.limits, self.api_key = resolve, limits, api_key
        self.slots: dict[str, Slot] = {}
        self._lock = threading.Lock()
        for spec in resolve():
            self.slots[spec.name] = self._open(spec)

    def _open(self, spec: ModelSpec) -> Slot:
        current = fingerprint(spec)
        served = load(spec)
        engine = Engine(served.model, max_batch=self.limits.max_batch, max_queue=self.limits.max_queue, name=spec.name)
        return Slot(served, engine, current)

    def get(self, name: str) -> Slot | None:
        return self.slots.get(name)

    def reload(self) -> list[str]:
        """Load what changed since the last look; return the names swapped in. A model that no
        longer resolves (deleted, half-written) keeps serving its old weights, with a warning."""
        with self._lock:
            try:
                specs = self.resolve()
            except CatalogError as exc:
                log.warning("reload: %s (serving the models already loaded)", exc)
                return []
            changed = []
            for spec in specs:
                try:
                    current = fingerprint(spec)
                    old = self.slots.get(spec.name)
                    if old is not None and old.fingerprint == current:
                        continue
                    self.slots[spec.name] = self._open(spec)
                except (CatalogError, OSError) as exc:
                    log.warning("reload: model %r: %s (kept as it was)", spec.name, exc)
                    continue
                changed.append(spec.name)
                if old is not None:
                    threading.Thread(target=old.engine.close, daemon=True).start()
                log.info("reload: model %r now serves %s", spec.name, current[0])
            return changed

    def close(self) -> None:
        for slot in self.slots.values():
            slot.engine.close(timeout=5)
