"""Tokens to text as they arrive: what a stream may show so far, stop strings, and the final text.

Byte-level BPE splits some characters over several tokens, and a stop string can end in the middle
of a token, so a stream cannot print each token's piece as it comes. Here every push decodes the
whole reply so far and shows only what can no longer change: not a trailing partial character
(decoded as U+FFFD until its last byte arrives), not a tail that may be the start of a stop string.
The streamed pieces therefore always join into exactly the final text, which is the plain reply.

A chat reply drops the one space the chat template puts before every content (as
ChatTemplate.reply does), so the text is the assistant's words, not the template's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"


class ReplyText:
    def __init__(self, decode: Callable[[list[int]], str], stop: Sequence[str] = (), strip_prefix: str = ""):
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._prefix = strip_prefix
        self._ids: list[int] = []
        self._shown = 0
        self.text = ""
        self.stopped = False  # a stop string ended the reply (the caller cancels the generation)

    def _full(self) -> str:
        text = self._decode(self._ids)
        return text[len(self._prefix) :] if self._prefix and text.startswith(self._prefix) else text

    def push(self, token_id: int) -> str:
        """Add a token; return the new text that is safe to show (maybe empty)."""
        if self.stopped:
            return ""
        self._ids.append(token_id)
        self.text = self._full()
        cut = min((i for i in (self.text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.text, self.stopped = self.text[:cut], True
            return self._show(len(self.text))
        safe = len(self.text.rstrip(REPLACEMENT))
        return self._show(safe - self._stop_prefix(self.text[:safe]))

    def _stop_prefix(self, text: str) -> int:
        """The length of the longest tail of `text` that begins a stop string."""
        held = 0
        for stop in self._stop:
            for k in range(min(len(stop) - 1, len(text)), held, -1):
                if text.endswith(stop[:k]):
                    held = k
                    break
        return held

    def _show(self, upto: int) -> str:
        piece = self.text[self._shown : upto] if upto > self._shown else ""
        self._shown = max(self._shown, upto)
        return piece

    def finish(self) -> str:
        """The rest of the text, once the reply has ended."""
        return self._show(len(self.text))
