"""A real `crisol serve` (uvicorn on a free loopback port, in a thread of the test process) over
the models of the session's micro RLHF pipeline, for the API, page and lm-eval tests.

    with running_server({"sft": dirs["sft"], "rlhf": dirs["ppo"]}) as url:
        openai.OpenAI(base_url=url + "/v1", api_key="none")
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import uvicorn

from crisol.serve.app import create_app
from crisol.serve.catalog import ModelSpec
from crisol.serve.lifecycle import lifespan_for
from crisol.serve.server import Limits, Server


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port, handed to uvicorn as it is: finding a free
    port, closing it and binding again would let another server take it in between."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running_server(
    models: dict[str, Path],
    limits: Limits = Limits(),
    api_key: str | None = None,
    watch: float = 0,
    resolve: Callable[[], list[ModelSpec]] | None = None,
) -> Iterator[str]:
    """Serve `models` (name -> any model directory form), or what `resolve` names at each look
    (reloading every `watch` seconds); yield the base URL (no /v1)."""
    specs = [ModelSpec(name, Path(path)) for name, path in models.items()]
    server = Server(resolve or (lambda: specs), limits, api_key=api_key)
    sock = bound_socket()
    config = uvicorn.Config(create_app(server, lifespan_for(server, watch)), log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        time.sleep(0.05)
    else:
        raise RuntimeError("crisol serve did not come up in 30 s")
    try:
        yield url
    finally:
        runner.should_exit = True
        thread.join(10)
        sock.close()
