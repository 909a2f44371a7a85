"""Nothing a client sends crashes `crisol serve`: every malformed, oversized or unauthorised
request is a 4xx with OpenAI's error body, a full queue is a 429, a client that leaves mid-stream
frees its batch row, and the server answers normally afterwards."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import torch

from crisol.model.config import ModelConfig
from crisol.model.hf_export import export_hf
from crisol.model.transformer import Transformer
from crisol.serve.server import Limits
from kit.serve import running_server

HI = [{"role": "user", "content": "hi"}]
KEY = "s3cret"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def plain(rlhf_pipeline):
    with running_server({"sft": rlhf_pipeline["sft"]}) as url:
        yield url


@pytest.fixture(scope="module")
def limited(rlhf_pipeline, tmp_path_factory):
    """A slow model (long context, wider) behind an API key and tight limits."""
    torch.manual_seed(0)
    vocab = 400
    model = Transformer(ModelConfig.from_depth(2, vocab, 1024, d_model=128))
    slow = export_hf(model, tmp_path_factory.mktemp("slow") / "hf", tokenizer_dir=rlhf_pipeline["tokenizer"])
    limits = Limits(max_batch=1, max_queue=1, max_tokens=1000, max_n=8, max_body_bytes=20_000)
    with running_server({"slow": slow}, limits=limits, api_key=KEY) as url:
        yield url


def is_openai_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"] and "type" in error
    return error["message"]


@pytest.mark.parametrize(
    "body, status, says",
    [
        ('{"model": "sft", "messages": [', 400, "not valid JSON"),
        ("[1, 2]", 400, ""),
        ('{"model": "sft"}', 400, "messages"),
        ('{"model": "sft", "messages": []}', 400, "messages"),
        ('{"model": "sft", "messages": [{"role": "robot", "content": "x"}]}', 400, "role"),
        ('{"model": "sft", "messages": [{"role": "user", "content": 5}]}', 400, "content"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"}', 400, "max_tokens"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}', 400, "max_tokens"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', 400, "temperature"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "x"}], "n": 99}', 400, "n:"),
        (
            '{"model": "sft", "messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]}',
            400,
            "stop",
        ),
        (
            '{"model": "sft", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}',
            400,
            "tools",
        ),
        ('{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "nope"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "' + "word " * 400 + '"}]}', 400, "context length"),
        ('{"model": "sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5000}', 400, "at most"),
    ],
)
def test_bad_chat_requests_are_4xx_with_openai_errors(plain, body, status, says):
    response = httpx.post(plain + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert says in is_openai_error(response, status)


@pytest.mark.parametrize(
    "body, says",
    [
        ({"model": "sft", "prompt": [1, 2, 10**9]}, "token ids"),
        ({"model": "sft", "prompt": ""}, "empty"),
        ({"model": "sft", "prompt": []}, "empty"),
        ({"model": "sft", "prompt": [[1, 2], "mixed"]}, "prompt"),
        ({"model": "sft", "prompt": "x", "logprobs": 50}, "logprobs"),
        ({"model": "sft", "prompt": "x", "logprobs": 1, "stream": True}, "stream"),
        ({"model": "sft", "prompt": ["x"] * 100}, "prompts per request"),
    ],
)
def test_bad_completion_requests_are_400(plain, body, says):
    assert says in is_openai_error(httpx.post(plain + "/v1/completions", json=body), 400)


def test_unknown_route_and_method_are_openai_errors(plain):
    is_openai_error(httpx.get(plain + "/v1/nothing"), 404)
    is_openai_error(httpx.get(plain + "/v1/chat/completions"), 405)


def test_api_key_is_required_when_set(limited):
    ask = {"model": "slow", "messages": HI, "max_tokens": 2}
    assert "API key" in is_openai_error(httpx.post(limited + "/v1/chat/completions", json=ask), 401)
    wrong = {"Authorization": "Bearer nope"}
    is_openai_error(httpx.post(limited + "/v1/chat/completions", json=ask, headers=wrong), 401)
    is_openai_error(httpx.get(limited + "/v1/models"), 401)
    assert httpx.post(limited + "/v1/chat/completions", json=ask, headers=AUTH).status_code == 200
    assert httpx.get(limited + "/health").status_code == 200  # liveness needs no key


def test_oversized_body_is_413(limited):
    body = json.dumps({"model": "slow", "messages": [{"role": "user", "content": "x" * 30_000}]})
    response = httpx.post(limited + "/v1/chat/completions", content=body, headers=AUTH)
    is_openai_error(response, 413)


def test_full_queue_is_429(limited):
    """n=4 on a one-row batch with a one-request queue: the first choice runs, the second waits,
    the third finds the queue full, so the request is refused whole and its jobs are cancelled."""
    ask = {"model": "slow", "messages": HI, "max_tokens": 500, "n": 4, "temperature": 0}
    assert "busy" in is_openai_error(httpx.post(limited + "/v1/chat/completions", json=ask, headers=AUTH), 429)
    wait_idle(limited)


def wait_idle(url: str, seconds: float = 10) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        load = httpx.get(url + "/health").json()["models"]
        if all(m["running"] == 0 and m["waiting"] == 0 for m in load.values()):
            return load
        time.sleep(0.05)
    raise AssertionError(f"still busy after {seconds} s: {load}")


def test_a_client_leaving_mid_stream_frees_its_row(limited):
    ask = {"model": "slow", "messages": HI, "max_tokens": 1000, "temperature": 0, "stream": True}
    steps_before = httpx.get(limited + "/health").json()["models"]["slow"]["steps"]
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", limited + "/v1/chat/completions", json=ask, headers=AUTH) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
        steps = wait_idle(limited)["slow"]["steps"] - steps_before
        assert steps < 900, f"the abandoned reply ran {steps} of its 1000 steps"
    # the row is free: the next request runs at once
    quick = {"model": "slow", "messages": HI, "max_tokens": 3}
    assert httpx.post(limited + "/v1/chat/completions", json=quick, headers=AUTH, timeout=30).status_code == 200


def test_server_still_answers_after_all_of_that(plain):
    ask = {"model": "sft", "messages": HI, "max_tokens": 4}
    response = httpx.post(plain + "/v1/chat/completions", json=ask)
    assert response.status_code == 200 and response.json()["choices"][0]["finish_reason"] in {"stop", "length"}
