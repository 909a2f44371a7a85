"""The choices of one request generated side by side: n jobs (times the prompts of a text
completion) submitted to a model's engine, their tokens merged into one stream of events on the
event loop, each choice's text kept by a ReplyText.

    choices = Choices(engine, prompts, samplings, texts)
    async for event in choices.events():      # ChoiceEvent(index, piece, tokens, finish)
        ...
    choices.cancel()                           # on disconnect: every job's row is freed

A stop string found in a choice's text ends that choice ("stop") and cancels its job.

Under load the event loop, not the model, is what limits a server on few cores: every token of
every request costs a wake-up, a queue hand-off and an HTTP chunk. So engine threads post to one
Mailbox per loop, which wakes the loop once per burst (one decode step of 32 rows is one wake-up,
not 32), and `events` hands over everything that arrived since it last looked as one event per
choice: a client that is keeping up gets a token per chunk, a server that falls behind sends
fewer, larger chunks instead of falling further behind.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from crisol.serve.engine import Engine, Finish, Job, QueueFull, Sampling, Token
from crisol.serve.text import ReplyText


@dataclass(frozen=True)
class ChoiceEvent:
    index: int
    piece: str  # new text to show (may be empty)
    tokens: tuple[Token, ...] = ()  # the tokens behind it, for logprobs
    finish: str | None = None  # stop | length, once, at the end of the choice


class ServerFault(RuntimeError):
    """The engine failed on a request (a bug, not the client's doing): HTTP 500."""


class Mailbox:
    """Items from other threads into asyncio queues of one loop, one loop wake-up per burst."""

    _of_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Mailbox:
        if loop not in cls._of_loop:
            cls._of_loop[loop] = cls(loop)
        return cls._of_loop[loop]

    def post(self, queue: asyncio.Queue, item) -> None:
        with self._lock:
            self._items.append((queue, item))
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, collections.deque()
            self._scheduled = False
        for queue, item in items:
            queue.put_nowait(item)


class Choices:
    def __init__(
        self, engine: Engine, prompts: Sequence[list[int]], samplings: Sequence[Sampling], texts: Sequence[ReplyText]
    ):
        self._mailbox = Mailbox.of(asyncio.get_running_loop())
        self._queue: asyncio.Queue = asyncio.Queue()
        self.texts = list(texts)
        self.generated = [0] * len(prompts)
        self.jobs = [Job(list(p), s, deliver=self._deliverer(i)) for i, (p, s) in enumerate(zip(prompts, samplings))]
        self._open = set(range(len(self.jobs)))
        try:
            for job in self.jobs:
                engine.submit(job)
        except QueueFull:
            self.cancel()
            raise

    def _deliverer(self, index: int):
        def deliver(event: Token | Finish) -> None:  # on the engine thread
            self._mailbox.post(self._queue, (index, event))

        return deliver

    def cancel(self) -> None:
        for job in self.jobs:
            job.cancel()

    async def events(self) -> AsyncIterator[ChoiceEvent]:
        while self._open:
            arrived = [await self._queue.get()]
            while not self._queue.empty():
                arrived.append(self._queue.get_nowait())
            for event in self._merge(arrived):
                yield event

    def _merge(self, arrived: list[tuple[int, Token | Finish]]) -> list[ChoiceEvent]:
        """One event per choice for everything that arrived together (a finish closes its choice)."""
        pending: dict[int, tuple[list[str], list[Token]]] = {}
        out: list[ChoiceEvent] = []
        for index, event in arrived:
            if index not in self._open:
                continue
            pieces, tokens = pending.setdefault(index, ([], []))
            text = self.texts[index]
            if isinstance(event, Token):
                if not text.stopped:
                    pieces.append(text.push(event.id))
                    tokens.append(event)
                    if text.stopped:
                        self.jobs[index].cancel()
                continue
            self._open.discard(index)
            self.generated[index] = event.generated
            if event.reason == "error":
                self.cancel()
                raise ServerFault(event.error or "generation failed")
            reason = "stop" if text.stopped or event.reason == "stop" else "length"
            pieces.append(text.finish())
            out.append(ChoiceEvent(index, "".join(pieces), tuple(tokens), reason))
            del pending[index]
        out += [ChoiceEvent(i, "".join(p), tuple(t)) for i, (p, t) in pending.items() if p or t]
        return out
