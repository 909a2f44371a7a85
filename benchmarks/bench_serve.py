"""`crisol serve` under load, as a real subprocess on a free port (`--max-batch <clients>`).

    .venv/bin/python benchmarks/bench_serve.py [--model DIR] [--clients 32] [--max-tokens 48]
                                               [--mixed 2000] [--concurrency 16] [--threads N] [--seed 0]

1. Throughput: `--clients` seeded chat questions at temperature 0, `--max-tokens` each (less if the
   context is short), streamed with the usage chunk; first one at a time (the baseline), then all
   at once. Per mode: wall time, generated tokens (usage), tokens/s, time to first token (sending
   to the first non-empty content delta) p50/p99, errors; then the tokens/s ratio (target >= 4x on
   2 cores: reported, not asserted). A concurrent round first warms the server up (not counted).
2. Robustness: `--mixed` seeded draws from CASES, `--concurrency` at a time: valid requests (200)
   and malformed ones (4xx), raw sockets included (lying or missing Content-Length, oversize body),
   clients that leave mid-stream. Statuses per case; the server's VmRSS per quarter and after
   settling; /health must show no row still held.
Exit status 1 on any failed request, 5xx, connection error, unexpected status or server traceback.

--model: a stage out dir (model/ + hf/); default data/sft (`make demo`), else a STAND-IN of the
tiny SFT model's shape (params.yaml tiny: pretrain.model, pretrain.seq_len, tokenizer.vocab_size)
with seeded random weights and data/tokenizer or a small fitted one: throughput depends on the
shape, not the weights. Its stop tokens' and unused ids' embedding rows are zero (tied head: logit
0, never the argmax), so every reply runs to max_tokens. The server gets OMP_WAIT_POLICY=PASSIVE
unless set (bench_generate.py: busy-waiting OpenMP threads collapse on shared cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import torch

from crisol.chat.hf_template import export_chat_model
from crisol.chat.template import ChatTemplate
from crisol.core.params import resolve_tree
from crisol.model.config import ModelConfig
from crisol.model.transformer import Transformer
from crisol.model.weights import save_model
from crisol.serve.catalog import locate
from stages.pretrain.params import ModelShape
from stages.tokenizer.bpe import fit
from stages.tokenizer.hf_files import write_hf_files
from stages.tokenizer.params import TokenizerParams

ROOT = Path(__file__).resolve().parent.parent  # the checkout: params.yaml, data/, the served code
NAME = "bench"
WORDS = (
    "river city bridge market harbour castle museum forest mountain lake school library garden tower "
    "island valley village station factory theatre"
).split()
QUESTIONS = (
    "Where is the {} of {}?",
    "Who built the {} near {}?",
    "Tell me about the {} in {}.",
    "How old is the {} of {}?",
    "What is the {} of {} famous for?",
)


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    tokens: int = 0
    ttfts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU seconds: the clients share the cores with the server
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        p50, p99 = np.percentile(self.ttfts, [50, 99]) * 1000 if self.ttfts else (float("nan"),) * 2
        return (
            f"{self.name:<12} {self.seconds:7.2f} s {self.tokens:6d} tokens {self.rate:8.1f} tokens/s   "
            f"TTFT p50 {p50:6.0f} ms p99 {p99:6.0f} ms (of {len(self.ttfts)})   errors {len(self.errors)}   "
            f"CPU s: server {self.server_cpu:.2f}, clients {self.client_cpu:.2f}"
        )


def conversations(count: int, seed: int) -> list[list[dict]]:
    rng = random.Random(seed)
    return [
        [{"role": "user", "content": rng.choice(QUESTIONS).format(rng.choice(WORDS), rng.choice(WORDS).title())}]
        for _ in range(count)
    ]


def stand_in(root: Path, seed: int) -> Path:
    """The tiny profile's SFT model shape with random weights, in the SFT stage's out layout."""
    tree = resolve_tree(ROOT / "params.yaml", ["profile=tiny"])
    tokenizer_dir = ROOT / tree["tokenizer"]["out"]
    if not (tokenizer_dir / "tokenizer.json").is_file():  # no `make demo`: fit a small one, as tests/kit/chat.py does
        tokenizer_dir, params = root / "tokenizer", TokenizerParams(vocab_size=400)
        tokenizer_dir.mkdir()
        texts = [" ".join(q.format(w, v.title()) for q in QUESTIONS) for w in WORDS for v in WORDS]
        fit(texts, params).save(str(tokenizer_dir / "tokenizer.json"))
        write_hf_files(tokenizer_dir, params.special_tokens)
    template = ChatTemplate.from_file(tokenizer_dir)
    known = template.text_tokenizer.get_vocab_size()
    shape = ModelShape(**tree["pretrain"]["model"])
    config = ModelConfig.from_depth(
        shape.depth, max(known, tree["tokenizer"]["vocab_size"]), tree["pretrain"]["seq_len"], **shape.overrides()
    )
    torch.manual_seed(seed)
    model = Transformer(config).eval()
    with torch.no_grad():
        model.embed_tokens.weight[known:] = 0
        model.embed_tokens.weight[list(template.stop_ids)] = 0
    save_model(model, root / "sft" / "model", {"stand_in": True})
    export_chat_model(model, root / "sft" / "hf", tokenizer_dir, template)
    print(
        f"STAND-IN model (no {tree['sft']['out']}): random weights, depth {config.depth}, d_model "
        f"{config.d_model}, vocab {config.vocab_size}, context {config.max_seq_len}, {known}-token tokenizer"
    )
    return root / "sft"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, args, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "crisol",
        "serve",
        "--model",
        f"{NAME}={model}",
        "--port",
        str(port),
        "--max-batch",
        str(args.clients),
        "--watch",
        "0",
    ]
    command += ["--threads", str(args.threads)] if args.threads else []
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"crisol serve did not come up:\n{log.read_text()[-3000:]}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def stream_chat(client: httpx.AsyncClient, messages: list[dict], max_tokens: int) -> tuple[float | None, int]:
    """(seconds to the first content, generated tokens) of one streamed chat completion."""
    body = {
        "model": NAME,
        "messages": messages,
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start, first, tokens = time.perf_counter(), None, None
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            if first is None or '"usage"' in line or '"error"' in line:  # parse only what is needed
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise RuntimeError(chunk["error"]["message"])
                if first is None and any(c["delta"].get("content") for c in chunk["choices"]):
                    first = time.perf_counter() - start
                tokens = (chunk.get("usage") or {}).get("completion_tokens", tokens)
    if tokens is None:
        raise RuntimeError("the stream had no usage chunk")
    return first, tokens


async def throughput(
    client: httpx.AsyncClient, pid: int, name: str, prompts: list[list[dict]], max_tokens: int, together: bool
) -> Run:
    run = Run(name)

    async def one(messages):
        try:
            first, tokens = await stream_chat(client, messages, max_tokens)
        except (httpx.HTTPError, RuntimeError) as exc:
            run.errors.append(f"{exc.__class__.__name__}: {exc}")
            return
        run.tokens += tokens
        run.ttfts += [first] if first is not None else []

    start, server, own = time.perf_counter(), cpu_seconds(pid), time.process_time()
    if together:
        await asyncio.gather(*(one(m) for m in prompts))
    else:
        for messages in prompts:
            await one(messages)
    run.seconds = time.perf_counter() - start
    run.server_cpu, run.client_cpu = cpu_seconds(pid) - server, time.process_time() - own
    return run


# --- robustness: valid and malformed requests mixed ----------------------------------------------

CHAT, TEXT = "/v1/chat/completions", "/v1/completions"


@dataclass
class Mixed:
    client: httpx.AsyncClient
    port: int
    context: int
    rng: random.Random

    def chat(self, **fields) -> dict:
        return {
            "model": NAME,
            "messages": conversations(1, self.rng.randrange(10**6))[0],
            "max_tokens": self.rng.randint(1, 8),
            **fields,
        }

    def long_text(self) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(4 * self.context))


# name: (expected status, path, body: JSON-able or raw bytes)
BODIES = {
    "chat": ("200", CHAT, lambda m: m.chat()),
    "chat n=2": ("200", CHAT, lambda m: m.chat(n=2, temperature=0.8, seed=m.rng.randrange(1000))),
    "completion": (
        "200",
        TEXT,
        lambda m: {"model": NAME, "prompt": m.chat()["messages"][0]["content"], "max_tokens": 4},
    ),
    "echo+logprobs": (
        "200",
        TEXT,
        lambda m: {"model": NAME, "prompt": "The river", "max_tokens": 0, "echo": True, "logprobs": 2},
    ),
    "temperature 1e-300": ("200", CHAT, lambda m: m.chat(temperature=1e-300)),
    "top_p 1e-300": ("200", CHAT, lambda m: m.chat(temperature=1.0, top_p=1e-300)),
    "bad JSON": ("4xx", CHAT, lambda m: b'{"model": "bench", "messages": ['),
    "not UTF-8": ("4xx", CHAT, lambda m: b'{"model": "\xff\xfe"}'),
    "deep JSON": ("4xx", CHAT, lambda m: b"[" * 100_000),
    "JSON list": ("4xx", CHAT, lambda m: [1, 2, 3]),
    "wrong types": ("4xx", CHAT, lambda m: m.chat(temperature="hot", max_tokens="10")),
    "content int": ("4xx", CHAT, lambda m: {"model": NAME, "messages": [{"role": "user", "content": 7}]}),
    "bad role": ("4xx", CHAT, lambda m: {"model": NAME, "messages": [{"role": "robot", "content": "hi"}]}),
    "no messages": ("4xx", CHAT, lambda m: {"model": NAME}),
    "empty messages": ("4xx", CHAT, lambda m: {"model": NAME, "messages": []}),
    "unknown model": ("4xx", CHAT, lambda m: {**m.chat(), "model": "no-such-model"}),
    "too long": ("4xx", CHAT, lambda m: m.chat(messages=[{"role": "user", "content": m.long_text()}])),
    "negative max": ("4xx", CHAT, lambda m: m.chat(max_tokens=-5)),
    "huge max": ("4xx", CHAT, lambda m: m.chat(max_tokens=10**30)),
    "huge n": ("4xx", CHAT, lambda m: m.chat(n=10**6)),
    "huge seed": ("4xx", CHAT, lambda m: m.chat(seed=2**70)),
    "lone surrogate": ("4xx", CHAT, lambda m: m.chat(messages=[{"role": "user", "content": "caf\ud800"}])),
    "unsupported": ("4xx", CHAT, lambda m: m.chat(tools=[{"type": "function"}])),
    "bad token ids": ("4xx", TEXT, lambda m: {"model": NAME, "prompt": [10**12, -1]}),
}


async def post(m: Mixed, path: str, body) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await m.client.post(path, content=raw, headers={"content-type": "application/json"})
    return response.status_code


async def raw_http(m: Mixed, data: bytes, half_close: bool = False) -> int | None:
    """Send bytes on a fresh connection; the status of the reply, or None when the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", m.port)
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), 60)
        return int(line.split()[1]) if line else None
    finally:
        writer.close()


def head(path: str, *headers: str) -> bytes:
    return "\r\n".join(
        [f"POST {path} HTTP/1.1", "Host: bench", "Content-Type: application/json", *headers, "", ""]
    ).encode()


async def streamed(m: Mixed, disconnect: bool) -> int:
    """A streamed chat read to the end, or (disconnect) dropped after its third event."""
    body = m.chat(stream=True, max_tokens=None) if disconnect else m.chat(stream=True)
    events = 0
    async with m.client.stream("POST", CHAT, json=body) as response:
        async for line in response.aiter_lines():
            events += line.startswith("data:")
            if disconnect and events == 3:
                break  # leaving the block unread closes the connection
        return response.status_code


SPECIAL = {  # name: (expected, request)
    "stream": ("200", lambda m: streamed(m, disconnect=False)),
    "disconnect mid-stream": ("200", lambda m: streamed(m, disconnect=True)),
    "GET models": ("200", lambda m: m.client.get("/v1/models")),
    "unknown path": ("4xx", lambda m: m.client.get("/v1/nothing")),
    "wrong method": ("4xx", lambda m: m.client.get(CHAT)),
    "oversize body": ("4xx", lambda m: raw_http(m, head(CHAT, "Content-Length: 999999999"))),
    "short Content-Length": ("4xx", lambda m: raw_http(m, head(CHAT, "Content-Length: 9") + b'{"model": "bench"}')),
    "bad Content-Length": ("4xx", lambda m: raw_http(m, head(CHAT, "Content-Length: ten") + b"{}")),
    "chunked, no length": (
        "4xx",
        lambda m: raw_http(m, head(CHAT, "Transfer-Encoding: chunked") + b"2\r\n{}\r\n0\r\n\r\n"),
    ),
    "body cut short": ("any", lambda m: raw_http(m, head(CHAT, "Content-Length: 500") + b'{"model"', half_close=True)),
}
CASES = {
    **{name: (expect, lambda m, p=path, b=body: post(m, p, b(m))) for name, (expect, path, body) in BODIES.items()},
    **SPECIAL,
}


def failed(expect: str, outcome) -> bool:
    if isinstance(outcome, str) or (outcome is None and expect != "any"):
        return True  # a connection error, or no reply where one was due
    return outcome is not None and (outcome >= 500 or (expect == "200") != (outcome == 200))


async def one_case(m: Mixed, name: str):
    try:
        outcome = await CASES[name][1](m)
        return outcome.status_code if isinstance(outcome, httpx.Response) else outcome
    except (httpx.HTTPError, OSError, asyncio.TimeoutError) as exc:
        return exc.__class__.__name__


async def mixed(client: httpx.AsyncClient, url: str, pid: int, args, context: int) -> int:
    m = Mixed(client, int(url.rsplit(":", 1)[1]), context, random.Random(args.seed))
    names = [m.rng.choice(list(CASES)) for _ in range(args.mixed)]
    outcomes: dict[str, Counter] = defaultdict(Counter)
    gate = asyncio.Semaphore(args.concurrency)

    async def gated(name: str):
        async with gate:
            outcomes[name][await one_case(m, name)] += 1

    rss = [rss_mb(pid)]
    for quarter in range(4):
        await asyncio.gather(*(gated(n) for n in names[quarter * len(names) // 4 : (quarter + 1) * len(names) // 4]))
        rss.append(rss_mb(pid))
    await asyncio.sleep(2)  # settle: cancelled rows are freed at the engine's next step
    rss.append(rss_mb(pid))
    load = (await client.get("/health")).json()["models"][NAME]
    errors = sum(n for name, c in outcomes.items() for o, n in c.items() if failed(CASES[name][0], o))
    statuses = Counter(
        o if isinstance(o, int) else "no reply" if o is None else "conn error"
        for c in outcomes.values()
        for o in c.elements()
    )
    print(f"\n{args.mixed} mixed requests, {args.concurrency} at a time:")
    for name in CASES:
        got = ", ".join(f"{o}: {n}" for o, n in outcomes[name].items())
        print(f"  {name:<22} expect {CASES[name][0]:<4} got {got}")
    print(f"  statuses: {dict(sorted(statuses.items(), key=str))}")
    print(
        f"  5xx: {sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500)}, "
        f"connection errors: {statuses['conn error']}, failed expectations: {errors}"
    )
    print(
        f"  server RSS MB by quarter: {' -> '.join(f'{r:.1f}' for r in rss[:-1])}, after settling {rss[-1]:.1f}; "
        f"growth {rss[-1] - rss[0]:+.1f} MB"
    )
    print(f"  after: running {load['running']}, waiting {load['waiting']} (both 0: every row freed)")
    return errors + load["running"] + load["waiting"]


async def bench(url: str, pid: int, args, prompts: list[list[dict]], max_tokens: int, context: int) -> int:
    # uvicorn closes a connection idle for 5 s; a client that reuses it at that moment gets a
    # ReadError (a race of the two, not a server fault), so connections idle for 1 s are not reused.
    limits = httpx.Limits(max_connections=args.clients + args.concurrency, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        await throughput(client, pid, "warm-up", prompts, max_tokens, together=True)  # first-call allocations
        print(f"server RSS after warm-up: {rss_mb(pid):.1f} MB")
        one = await throughput(client, pid, "one at a time", prompts, max_tokens, together=False)
        many = await throughput(client, pid, f"{len(prompts)} at once", prompts, max_tokens, together=True)
        print(one.line())
        print(many.line())
        ratio = many.rate / one.rate if one.rate else 0.0
        print(f"ratio {ratio:.2f}x aggregate tokens/s ({'meets' if ratio >= 4 else 'BELOW'} the >= 4x target)")
        for error in (one.errors + many.errors)[:5]:
            print(f"  error: {error}")
        return len(one.errors) + len(many.errors) + await mixed(client, url, pid, args, context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: data/sft, else a stand-in (see above)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--mixed", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="the server's torch threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        made = ROOT / "data" / "sft"
        model = (args.model or (made if (made / "model").is_dir() else stand_in(Path(tmp), args.seed))).resolve()
        prompts = conversations(args.clients, args.seed)
        template = ChatTemplate.from_file(locate(model)[2])
        longest = max(len(template.generation_prompt(p)) for p in prompts)
        process, url = start_server(model, args, Path(tmp) / "server.log")
        try:
            context = httpx.get(url + "/v1/models").json()["data"][0]["max_model_len"]
            max_tokens = min(args.max_tokens, context - longest)
            print(
                f"model {model}: context {context}; {len(prompts)} prompts of <= {longest} tokens, "
                f"temperature 0, max_tokens {max_tokens}"
            )
            errors = asyncio.run(bench(url, process.pid, args, prompts, max_tokens, context))
        finally:
            process.terminate()
            process.wait(10)
        log = (Path(tmp) / "server.log").read_text()
        if "Traceback" in log:
            print(f"server log has tracebacks:\n{log[-3000:]}")
            errors += 1
    print(f"\n{'FAILED' if errors else 'OK'}: {errors} errors")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
