"""The HTTP face of the server: OpenAI's API, vLLM's tokenizer routes, and the chat page.

    GET  /health                 liveness and each model's load
    GET  /v1/models              the served models
    POST /v1/chat/completions    messages through the chat template; stream as server-sent events
    POST /v1/completions         plain text or token ids; echo + logprobs score a text
    GET  /tokenizer_info         vLLM's tokenizer routes, so lm-eval's local-completions finds the
    POST /tokenize, /detokenize  tokenizer on the server and needs no copy of it
    GET  /                       the chat page (crisol/serve/static)

Errors are OpenAI's body ({"error": {message, type, param, code}}) with a 4xx status for anything
the client sent (malformed JSON, a wrong type, an unknown model, a prompt over the context, a
missing API key), 429 when a model's queue is full, and 500 only for a fault of ours.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from crisol.serve import requests as prep
from crisol.serve.choices import Choices, ServerFault
from crisol.serve.engine import QueueFull
from crisol.serve.protocol import ChatRequest, CompletionRequest, DetokenizeRequest, TokenizeRequest, error_body
from crisol.serve.server import Server

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("crisol.serve")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status, self.body = status, error_body(message, kind, param, code)


def create_app(server: Server, lifespan=None) -> FastAPI:
    """The app over `server`; `lifespan` (lifecycle.lifespan_for) adds reloading and shutdown."""
    app = FastAPI(title="crisol", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.server = server
    _install_error_handlers(app)
    _install_body_limit(app, server.limits.max_body_bytes)
    authorized = Depends(_authorize)

    @app.get("/health")
    async def health():
        return {"status": "ok", "models": {name: slot.engine.load() for name, slot in server.slots.items()}}

    @app.get("/v1/models", dependencies=[authorized])
    async def models():
        return {"object": "list", "data": [_model_card(slot.served) for slot in server.slots.values()]}

    @app.post("/v1/chat/completions", dependencies=[authorized])
    async def chat(request: ChatRequest):
        slot = _slot(server, request.model)
        job = prep.chat_job(slot.served, request, server.limits)
        return await _respond(slot, job, request, chat=True)

    @app.post("/v1/completions", dependencies=[authorized])
    async def completions(request: CompletionRequest):
        slot = _slot(server, request.model)
        job = prep.completion_job(slot.served, request, server.limits)
        if request.stream and request.logprobs is not None:
            raise ApiError(400, "logprobs with stream is not supported; ask without stream", param="logprobs")
        if request.echo:
            await prep.score_prompts(slot, job)
        return await _respond(slot, job, request, chat=False)

    @app.get("/tokenizer_info", dependencies=[authorized])
    async def tokenizer_info():
        served = next(iter(server.slots.values())).served
        tokens = served.template.tokens
        return {
            "eos_token": tokens.eos,
            "bos_token": tokens.bos,
            "pad_token": tokens.pad,
            "chat_template": served.template.jinja(),
            "model_max_length": served.context,
        }

    @app.post("/tokenize", dependencies=[authorized])
    async def tokenize(request: TokenizeRequest):
        served = _served_for_tokenizer(server, request.model)
        ids = served.transformers_tokenizer.encode(request.prompt, add_special_tokens=False).ids
        if request.add_special_tokens:
            ids = [served.template.bos_id, *ids]
        return {"tokens": ids, "count": len(ids), "max_model_len": served.context}

    @app.post("/detokenize", dependencies=[authorized])
    async def detokenize(request: DetokenizeRequest):
        served = _served_for_tokenizer(server, request.model)
        prep.check_ids(request.tokens, served, "tokens")
        return {"prompt": prep.decoder(served)(request.tokens)}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _authorize(request: Request) -> None:
    key = request.app.state.server.api_key
    if not key:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), key.encode()):
        raise ApiError(
            401,
            "missing or wrong API key (send Authorization: Bearer <key>)",
            kind="authentication_error",
            code="invalid_api_key",
        )


def _slot(server: Server, name: str):
    slot = server.get(name)
    if slot is None:
        raise ApiError(
            404,
            f"the model {name!r} does not exist (served: {', '.join(server.slots)})",
            param="model",
            code="model_not_found",
        )
    return slot


def _served_for_tokenizer(server: Server, name: str | None):
    return _slot(server, name).served if name else next(iter(server.slots.values())).served


def _model_card(served) -> dict:
    return {
        "id": served.name,
        "object": "model",
        "created": served.created,
        "owned_by": "crisol",
        "max_model_len": served.context,
        "chat": served.chat,
        "root": str(served.path),
    }


async def _respond(slot, job: prep.PreparedJob, request, chat: bool):
    try:
        choices = Choices(slot.engine, job.prompts, job.samplings, job.texts())
    except QueueFull as exc:
        raise ApiError(429, f"server busy: {exc}; retry later", kind="rate_limit_error", code="queue_full") from None
    meta = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
        "created": int(time.time()),
        "model": slot.served.name,
    }
    if request.stream:
        stream = _chat_stream(choices, job, meta, request) if chat else _text_stream(choices, job, meta, request)
        return StreamingResponse(
            _sse(stream, choices),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        return await (_chat_body(choices, job, meta) if chat else _text_body(choices, job, meta))
    except BaseException:
        choices.cancel()
        raise


def _usage(job: prep.PreparedJob, choices: Choices) -> dict:
    prompt = sum(len(p) for p in job.distinct_prompts)
    completion = sum(choices.generated)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _chat_body(choices: Choices, job, meta) -> dict:
    finish: dict[int, str] = {}
    async for event in choices.events():
        if event.finish:
            finish[event.index] = event.finish
    return {
        **meta,
        "object": "chat.completion",
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": choices.texts[i].text},
                "logprobs": None,
                "finish_reason": finish[i],
            }
            for i in range(len(choices.jobs))
        ],
        "usage": _usage(job, choices),
    }


async def _text_body(choices: Choices, job, meta) -> dict:
    finish: dict[int, str] = {}
    tokens: dict[int, list] = {i: [] for i in range(len(choices.jobs))}
    async for event in choices.events():
        tokens[event.index] += event.tokens
        if event.finish:
            finish[event.index] = event.finish
    out = []
    for i in range(len(choices.jobs)):
        text = choices.texts[i].text
        logprobs = job.logprobs_for(i, tokens[i]) if job.logprobs is not None else None
        out.append({"index": i, "text": job.echo_text(i) + text, "logprobs": logprobs, "finish_reason": finish[i]})
    return {**meta, "object": "text_completion", "choices": out, "usage": _usage(job, choices)}


def _chunk(meta: dict, obj: str, choices: list) -> dict:
    return {**meta, "object": obj, "choices": choices}


async def _chat_stream(choices: Choices, job, meta, request) -> AsyncIterator[dict]:
    obj = "chat.completion.chunk"
    for i in range(len(choices.jobs)):
        yield _chunk(meta, obj, [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    async for event in choices.events():
        if event.piece:
            yield _chunk(meta, obj, [{"index": event.index, "delta": {"content": event.piece}, "finish_reason": None}])
        if event.finish:
            yield _chunk(meta, obj, [{"index": event.index, "delta": {}, "finish_reason": event.finish}])
    if request.include_usage:
        yield {**_chunk(meta, obj, []), "usage": _usage(job, choices)}


async def _text_stream(choices: Choices, job, meta, request) -> AsyncIterator[dict]:
    obj = "text_completion"
    for i in range(len(choices.jobs)):
        if job.echo_text(i):
            yield _chunk(meta, obj, [{"index": i, "text": job.echo_text(i), "logprobs": None, "finish_reason": None}])
    async for event in choices.events():
        if event.piece or event.finish:
            yield _chunk(
                meta,
                obj,
                [{"index": event.index, "text": event.piece, "logprobs": None, "finish_reason": event.finish}],
            )
    if request.include_usage:
        yield {**_chunk(meta, obj, []), "usage": _usage(job, choices)}


async def _sse(chunks: AsyncIterator[dict], choices: Choices) -> AsyncIterator[str]:
    """Server-sent events, ending with `data: [DONE]`. A client that goes away closes this
    generator; `finally` then frees every row the request holds."""
    try:
        async for chunk in chunks:
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    except ServerFault as exc:
        log.error("stream failed: %s", exc)
        yield f"data: {json.dumps(error_body(str(exc), 'server_error'))}\n\n"
    finally:
        choices.cancel()
    yield "data: [DONE]\n\n"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(prep.RequestProblem)
    async def request_problem(_, exc: prep.RequestProblem):
        return JSONResponse(error_body(str(exc), param=exc.param, code=exc.code), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_, exc: RequestValidationError):
        err = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        if err.get("type") == "json_invalid":
            message, param = "the request body is not valid JSON", None
        else:
            param = ".".join(loc) or None
            message = f"{param + ': ' if param else ''}{err.get('msg', 'invalid request')}"
        return JSONResponse(error_body(message, param=param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)

    @app.exception_handler(ServerFault)
    async def fault(_, exc: ServerFault):
        return JSONResponse(error_body(f"generation failed: {exc}", "server_error"), status_code=500)


def _install_body_limit(app: FastAPI, limit: int) -> None:
    """Refuse a body over `limit` bytes before reading it (413). A POST must declare its length
    (411 otherwise): every client of this API does, and a streamed body of unknown size is how a
    client would get around the limit."""

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        declared = request.headers.get("content-length")
        if declared is None and request.method == "POST":
            return JSONResponse(error_body("a POST needs a Content-Length header"), status_code=411)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return JSONResponse(error_body(f"request body over {limit} bytes"), status_code=413)
        return await call_next(request)
