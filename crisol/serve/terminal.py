"""`crisol chat`: a conversation with one model in the terminal, the reply streamed as it is made.

    you> Where was Ada Brook born?
    sft> Ada Brook was born in Varo.
    /reset starts over, /quit (or Ctrl-D) leaves.

The model runs in this process on the server's engine and text code, so what is printed is what
`crisol serve` would stream for the same conversation. A conversation longer than the model's
context keeps its system message and drops its oldest turns (said once, in brackets).
"""

from __future__ import annotations

import queue
import sys
from pathlib import Path

from crisol.chat.template import CONTENT_PREFIX
from crisol.serve.catalog import CatalogError, ModelSpec, ServedModel, choose_specs, load
from crisol.serve.engine import Engine, Finish, Job, Sampling, Token
from crisol.serve.requests import decoder
from crisol.serve.text import ReplyText

PREFERRED = ("rlhf", "production", "sft", "base")
MIN_REPLY = 8  # tokens a trimmed conversation leaves for the reply at least


def pick(wanted: str | None, available: list[ModelSpec]) -> ModelSpec:
    if wanted:
        return choose_specs([wanted], available)[0]
    by_name = {spec.name: spec for spec in available}
    for name in PREFERRED:
        if name in by_name:
            return by_name[name]
    raise CatalogError("no model to chat with: the pipeline has made none yet (run `make demo`), pass --model DIR")


def fit(served: ServedModel, messages: list[dict], reply_room: int) -> tuple[list[dict], list[int]] | None:
    """The conversation, oldest turns dropped until it leaves `reply_room` tokens; None when even
    the last message alone does not fit."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system) :]
    while turns:
        prompt = served.template.generation_prompt(system + turns)
        if len(prompt) + reply_room <= served.context:
            return system + turns, prompt
        turns = turns[1:]
        while turns and turns[0]["role"] != "user":
            turns = turns[1:]
    return None


def reply(engine: Engine, served: ServedModel, prompt: list[int], sampling: Sampling, out) -> str:
    """Generate, print as it streams, return the reply's text."""
    events: queue.Queue = queue.Queue()
    job = Job(prompt, sampling, deliver=events.put)
    engine.submit(job)
    text = ReplyText(decoder(served), strip_prefix=CONTENT_PREFIX)
    try:
        while True:
            event = events.get()
            if isinstance(event, Token):
                out.write(text.push(event.id))
                out.flush()
            elif isinstance(event, Finish):
                out.write(text.finish() + "\n")
                if event.reason == "error":
                    out.write(f"[generation failed: {event.error}]\n")
                return text.text
    except KeyboardInterrupt:
        job.cancel()
        out.write(" [interrupted]\n")
        return text.text


def chat(args, available: list[ModelSpec], stdin=sys.stdin, out=sys.stdout) -> int:
    served = load(pick(args.model, available))
    engine = Engine(served.model, max_batch=1, name=served.name)
    room = min(args.max_tokens or MIN_REPLY, served.context - 1)
    label = Path(served.name).name if "/" in served.name else served.name  # a path given as --model: its last part
    out.write(f"[{label}: {served.path}, context {served.context} tokens; /reset starts over, /quit leaves]\n")
    opening = [{"role": "system", "content": args.system}] if args.system else []
    messages = list(opening)
    try:
        while True:
            out.write("you> ")
            out.flush()
            line = stdin.readline()
            if not line or line.strip() == "/quit":
                out.write("\n" if not line else "")
                return 0
            line = line.rstrip("\n")
            if line.strip() == "/reset":
                messages = list(opening)
                out.write("[a new conversation]\n")
                continue
            if not line.strip():
                continue
            fitted = fit(served, messages + [{"role": "user", "content": line}], room)
            if fitted is None:
                out.write(f"[that message is longer than the model's {served.context}-token context]\n")
                continue
            kept, prompt = fitted
            if len(kept) < len(messages) + 1:
                out.write("[the conversation outgrew the context: its oldest turns are dropped]\n")
            budget = min(args.max_tokens or served.context, served.context - len(prompt))
            sampling = Sampling(
                max_tokens=budget,
                temperature=args.temperature,
                top_p=args.top_p,
                stop_ids=frozenset(served.template.stop_ids),
                seed=args.seed,
            )
            out.write(f"{label}> ")
            answer = reply(engine, served, prompt, sampling, out)
            messages = kept + [{"role": "assistant", "content": answer}]
    finally:
        engine.close(timeout=5)
