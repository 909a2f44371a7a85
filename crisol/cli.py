"""The `crisol` command: talk to the models the pipeline made.

    crisol serve [--host 127.0.0.1] [--port 8000] [--model NAME_OR_DIR ...]   OpenAI-compatible API + chat page
    crisol chat  [--model NAME_OR_DIR]                                        a chat in the terminal

Models by name are the pipeline's (base, sft, rlhf, production: see crisol/serve/catalog.py),
read from params.yaml in the current directory; any model directory works by path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from crisol.serve.catalog import CatalogError, ModelSpec, choose_specs, pipeline_specs
from crisol.serve.server import Limits

API_KEY_ENV = "CRISOL_API_KEY"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--params",
        type=Path,
        default=Path("params.yaml"),
        help="the pipeline's params file: where its models are (default: params.yaml)",
    )
    parser.add_argument("--registry", type=Path, default=None, help="the model registry (default: models/registry)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crisol", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve models over an OpenAI-compatible HTTP API and a chat page")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME_OR_DIR",
        help="a pipeline model (base, sft, rlhf, production), a directory, or NAME=DIR; repeatable "
        "(default: every model the pipeline has made)",
    )
    serve.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        help=f"environment variable holding the API key clients must send (default {API_KEY_ENV}; "
        "unset: no key needed)",
    )
    serve.add_argument("--max-batch", type=int, default=Limits.max_batch, help="requests decoded together per model")
    serve.add_argument("--max-queue", type=int, default=Limits.max_queue, help="waiting requests per model before 429")
    serve.add_argument("--max-tokens", type=int, default=Limits.max_tokens, help="most tokens one choice may generate")
    serve.add_argument("--max-n", type=int, default=Limits.max_n, help="most choices per request")
    serve.add_argument(
        "--wait",
        action="store_true",
        help="with no model made yet, wait for the pipeline's first one instead of exiting",
    )
    serve.add_argument(
        "--watch",
        type=float,
        default=5.0,
        help="seconds between looks for a promoted or retrained model (0: only on SIGHUP)",
    )
    _common(serve)
    chat = commands.add_parser("chat", help="chat with a model in the terminal (/reset, /quit)")
    chat.add_argument(
        "--model",
        default=None,
        metavar="NAME_OR_DIR",
        help="default: the newest of rlhf, production, sft, base that exists",
    )
    chat.add_argument("--temperature", type=float, default=0.7)
    chat.add_argument("--top-p", type=float, default=0.95)
    chat.add_argument("--max-tokens", type=int, default=None, help="per reply (default: what the context leaves)")
    chat.add_argument("--system", default=None, help="a system message that opens the conversation")
    chat.add_argument("--seed", type=int, default=None)
    _common(chat)
    return parser


def _available(args) -> list[ModelSpec]:
    if not args.params.is_file():
        return []  # outside a pipeline checkout: directories only
    return pipeline_specs(Path.cwd(), args.params, args.registry)


def _positive(args, *names: str) -> None:
    for name in names:
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CatalogError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")


def _wait_for_models(resolve, every: float = 10.0) -> None:
    """Until `resolve` finds a model: a server started beside a pipeline that has not run yet."""
    said = False
    while True:
        try:
            resolve()
            return
        except CatalogError as exc:
            if not str(exc).startswith("no model to serve"):
                raise
            if not said:
                print(f"crisol serve: {exc}; waiting for one (every {every:.0f} s)", file=sys.stderr)
                said = True
        time.sleep(every)


def serve(args) -> int:
    import torch
    import uvicorn

    from crisol.model.generation_threads import generation_threads
    from crisol.serve.app import create_app
    from crisol.serve.lifecycle import lifespan_for
    from crisol.serve.server import Server

    _positive(args, "max_batch", "max_queue", "max_tokens", "max_n", "threads")
    limits = Limits(max_batch=args.max_batch, max_queue=args.max_queue, max_tokens=args.max_tokens, max_n=args.max_n)
    resolve = lambda: choose_specs(args.model, _available(args))  # noqa: E731  (re-read at every reload)
    if args.wait:
        _wait_for_models(resolve)
    server = Server(resolve, limits, api_key=os.environ.get(args.api_key_env) or None)
    names = ", ".join(f"{name} ({slot.served.path})" for name, slot in server.slots.items())
    print(f"crisol serve: {names}", file=sys.stderr)
    if not args.threads:  # once, for the process: engines of several models share torch's count
        torch.set_num_threads(generation_threads(slot.served.model for slot in server.slots.values()))
    print(f"crisol serve: {torch.get_num_threads()} torch thread(s)", file=sys.stderr)
    print(
        f"crisol serve: chat page and API on http://{args.host}:{args.port}/ "
        f"({'API key required' if server.api_key else 'no API key'})",
        file=sys.stderr,
    )
    app = create_app(server, lifespan_for(server, args.watch))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if args.command == "serve":
            return serve(args)
        from crisol.serve.terminal import chat

        _positive(args, "max_tokens")
        return chat(args, _available(args))
    except CatalogError as exc:
        print(f"crisol {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
