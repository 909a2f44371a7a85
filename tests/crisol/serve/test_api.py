"""`crisol serve` through the official `openai` client, on the micro pipeline's models: chat,
streaming, text completions, echo + logprobs, stop strings, seeds, the tokenizer routes. At
temperature 0 a reply is exactly our sampler's greedy reply, and a streamed reply is exactly the
plain one."""

from __future__ import annotations

import httpx
import openai
import pytest
import torch

from crisol.model.hf_export import export_hf
from crisol.model.sampling import generate
from crisol.model.weights import load_model
from crisol.serve.catalog import ModelSpec, load
from kit.serve import running_server

QUESTION = [{"role": "user", "content": "Where was the founder of the company born?"}]


@pytest.fixture(scope="module")
def served(rlhf_pipeline, tmp_path_factory):
    """The server over base (an HF export), sft and rlhf; yields (client, base url, models by name)."""
    base_hf = export_hf(
        load_model(rlhf_pipeline["base"]),
        tmp_path_factory.mktemp("base") / "hf",
        tokenizer_dir=rlhf_pipeline["tokenizer"],
    )
    dirs = {"base": base_hf, "sft": rlhf_pipeline["sft"], "rlhf": rlhf_pipeline["ppo"]}
    models = {name: load(ModelSpec(name, path)) for name, path in dirs.items()}
    with running_server(dirs) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0), url, models


def greedy_reply(served_model, messages, max_tokens: int) -> str:
    template = served_model.template
    ids = generate(
        served_model.model,
        [template.generation_prompt(messages)],
        max_tokens,
        temperature=0,
        stop_ids=template.stop_ids,
    )[0]
    return template.reply(ids)


def test_models_lists_every_served_model(served):
    client, _, _ = served
    cards = {m.id: m for m in client.models.list()}
    assert set(cards) == {"base", "sft", "rlhf"}
    assert cards["sft"].model_extra["chat"] and not cards["base"].model_extra["chat"]


@pytest.mark.parametrize("name", ["sft", "rlhf"])
def test_chat_at_temperature_zero_is_our_greedy_reply_and_streams_the_same(served, name):
    client, _, models = served
    reply = client.chat.completions.create(model=name, messages=QUESTION, temperature=0, max_tokens=24)
    expected = greedy_reply(models[name], QUESTION, 24)
    assert reply.choices[0].message.content == expected
    assert reply.usage.prompt_tokens == len(models[name].template.generation_prompt(QUESTION))
    chunks = list(
        client.chat.completions.create(
            model=name,
            messages=QUESTION,
            temperature=0,
            max_tokens=24,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == expected
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == reply.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


def test_seeded_choices_repeat_and_differ_from_each_other(served):
    client, _, _ = served
    ask = dict(model="sft", messages=QUESTION, temperature=1.0, max_tokens=16, n=3, seed=5)
    first = [c.message.content for c in client.chat.completions.create(**ask).choices]
    again = [c.message.content for c in client.chat.completions.create(**ask).choices]
    assert first == again and len(set(first)) > 1


def test_stop_string_cuts_the_reply(served):
    """A stop string ends the text before it, also when it spans tokens, and the stream agrees."""
    client, _, _ = served
    ask = dict(model="base", prompt="The river", max_tokens=24, temperature=0)
    full = client.completions.create(**ask).choices[0].text
    assert len(full) > 8, full
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    reply = client.completions.create(**ask, stop=[stop]).choices[0]
    assert reply.text == full[: full.index(stop)] and reply.finish_reason == "stop"
    streamed = client.completions.create(**ask, stop=stop, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == reply.text


def test_completions_continue_plain_text_on_the_base_model(served):
    client, _, models = served
    base = models["base"]
    prompt = "The capital of the country is"
    ids = base.template.encode_text(prompt)
    expected = generate(base.model, [ids], 12, temperature=0, stop_ids=[base.template.eos_id])[0]
    reply = client.completions.create(model="base", prompt=prompt, max_tokens=12, temperature=0)
    assert reply.choices[0].text == base.template.text_tokenizer.decode(expected, skip_special_tokens=False)
    streamed = client.completions.create(model="base", prompt=prompt, max_tokens=12, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == reply.choices[0].text


def test_echo_logprobs_are_the_models_own(served):
    client, _, models = served
    base = models["base"]
    ids = base.template.encode_text("A river runs through the old town")
    reply = client.completions.create(model="base", prompt=ids, max_tokens=0, echo=True, logprobs=1, temperature=0)
    logprobs = reply.choices[0].logprobs
    with torch.no_grad():
        logits, _ = base.model(torch.tensor([ids]))
    expected = torch.log_softmax(logits[0, :-1], -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    assert logprobs.token_logprobs[0] is None and len(logprobs.token_logprobs) == len(ids)
    assert logprobs.token_logprobs[1:] == pytest.approx(expected.tolist(), abs=1e-5)
    greedy = logits[0, :-1].argmax(-1).tolist()
    for position, top in enumerate(logprobs.top_logprobs[1:]):
        assert len(top) == 1 and (greedy[position] == ids[position + 1]) == (
            max(top.values()) == pytest.approx(logprobs.token_logprobs[position + 1])
        )
    assert reply.choices[0].text == base.template.text_tokenizer.decode(ids, skip_special_tokens=False)


def test_tokenizer_routes_round_trip(served):
    _, url, models = served
    text = "Ada was born in the north."
    ids = httpx.post(url + "/tokenize", json={"prompt": text}).json()["tokens"]
    assert ids == models["sft"].template.encode_text(text)
    assert httpx.post(url + "/detokenize", json={"tokens": ids}).json()["prompt"] == text
    assert httpx.get(url + "/tokenizer_info").json()["eos_token"] == "<|eos|>"
