"""The choices of one request generated side by side: n jobs (times the prompts of a text
completion) submitted to a model's engine, their tokens merged into one stream of events on the
event loop, each choice's text kept by a ReplyText.

    choices = Choices(engine, prompts, samplings, texts)
    async for event in choices.events():      # ChoiceEvent(index, piece, token, finish)
        ...
    choices.cancel()                           # on disconnect: every job's row is freed

A stop string found in a choice's text ends that choice ("stop") and cancels its job.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from crisol.serve.engine import Engine, Finish, Job, QueueFull, Sampling, Token
from crisol.serve.text import ReplyText


@dataclass(frozen=True)
class ChoiceEvent:
    index: int
    piece: str                     # new text to show (may be empty)
    token: Token | None = None     # the token behind it, for logprobs
    finish: str | None = None      # stop | length, once, at the end of the choice


class ServerFault(RuntimeError):
    """The engine failed on a request (a bug, not the client's doing): HTTP 500."""


class Choices:
    def __init__(self, engine: Engine, prompts: Sequence[list[int]], samplings: Sequence[Sampling],
                 texts: Sequence[ReplyText]):
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self.texts = list(texts)
        self.generated = [0] * len(prompts)
        self.jobs = [Job(list(p), s, deliver=self._deliverer(i)) for i, (p, s) in enumerate(zip(prompts, samplings))]
        try:
            for job in self.jobs:
                engine.submit(job)
        except QueueFull:
            self.cancel()
            raise

    def _deliverer(self, index: int):
        def deliver(event: Token | Finish) -> None:   # on the engine thread
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (index, event))
        return deliver

    def cancel(self) -> None:
        for job in self.jobs:
            job.cancel()

    async def events(self) -> AsyncIterator[ChoiceEvent]:
        open_choices = set(range(len(self.jobs)))
        stopped: set[int] = set()
        while open_choices:
            index, event = await self._queue.get()
            if index not in open_choices:
                continue
            text = self.texts[index]
            if isinstance(event, Token):
                if index in stopped:
                    continue
                piece = text.push(event.id)
                if text.stopped:
                    stopped.add(index)
                    self.jobs[index].cancel()
                yield ChoiceEvent(index, piece, event)
                continue
            open_choices.discard(index)
            self.generated[index] = event.generated
            if event.reason == "error":
                self.cancel()
                raise ServerFault(event.error or "generation failed")
            reason = "stop" if index in stopped or event.reason == "stop" else "length"
            yield ChoiceEvent(index, text.finish(), finish=reason)
