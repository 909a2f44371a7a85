"""The chat page of `crisol serve` (GET /), driven in headless Chromium over the micro pipeline's
SFT and RLHF models: a reply streams in and equals what the API itself answers (temperature 0, or seeded),
the model drop-down switches who answers, old turns give way when the context is full, Clear
empties the conversation, and an error body (401 without the API key) is shown on the page.

Needs Debian's chromium and Playwright (see kit/browser.py); skips with the reason, before the
pipeline is built, when either is missing. Deselect with `-m "not ui"`.
"""

from __future__ import annotations

import httpx
import pytest

from kit.browser import browser_page, missing_browser
from kit.serve import running_server

pytestmark = [pytest.mark.ui, pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))]


@pytest.fixture(scope="module")
def chat_server(rlhf_pipeline):
    with running_server({"sft": rlhf_pipeline["sft"], "rlhf": rlhf_pipeline["ppo"]}) as url:
        yield url


@pytest.fixture
def page(chat_server, tmp_path):
    with browser_page(chat_server, tmp_path) as page:
        page.goto(chat_server + "/")
        yield page


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def api_chat(url: str, model: str, messages: list[dict], api_key: str | None = None, **options) -> dict:
    """The server's own non-streamed answer to the same conversation, the reference for the page."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = httpx.post(
        f"{url}/v1/chat/completions",
        headers=headers,
        timeout=60,
        json={"model": model, "messages": messages, **options},
    )
    assert response.status_code == 200, response.text
    return response.json()


def reply_of(url: str, model: str, messages: list[dict], **options) -> str:
    return api_chat(url, model, messages, **options)["choices"][0]["message"]["content"]


def send(page, text: str) -> dict:
    """Type `text`, press Enter, wait for the reply to finish; the request body the page sent."""
    replies = page.locator(".turn.assistant")
    before = replies.count()
    with page.expect_request("**/v1/chat/completions") as request:
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_label("Message", exact=True).press("Enter")
    expect(replies).to_have_count(before + 1)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()  # the stream has ended
    return request.value.post_data_json


def last_reply(page) -> tuple[str, str]:
    """(the model it is labelled with, its text) of the newest assistant turn."""
    turn = page.locator(".turn.assistant").last
    return turn.locator(".speaker").text_content(), turn.locator(".content").text_content()


def test_reply_streams_in_and_follows_the_model_switch(page, chat_server):
    models = httpx.get(chat_server + "/v1/models").json()["data"]
    chat_first = [m["id"] for m in sorted(models, key=lambda m: not m["chat"])]
    model = page.get_by_label("Model", exact=True)
    expect(model.locator("option")).to_have_text(chat_first)
    expect(model).to_have_value(chat_first[0])
    expect(page.get_by_label("Temperature", exact=True)).to_have_value("0.7")
    page.get_by_label("Temperature", exact=True).fill("0")
    page.get_by_label("Max tokens", exact=True).fill("8")

    first = "What is the capital of France?"
    body = send(page, first)
    assert body["stream"] is True and body["temperature"] == 0 and body["max_tokens"] == 8
    assert body["messages"] == [{"role": "user", "content": first}]
    speaker, text = last_reply(page)
    expected = reply_of(chat_server, "sft", body["messages"], temperature=0, max_tokens=8)
    assert expected and (speaker, text) == ("sft", expected)

    # Shift+Enter is a new line, not a send; the other model answers the whole conversation. The
    # micro models' greedy replies are blanks, so this turn samples, seeded, to compare visible text.
    model.select_option("rlhf")
    page.get_by_label("Temperature", exact=True).fill("1")
    page.get_by_label("Seed", exact=True).fill("7")
    box = page.get_by_label("Message", exact=True)
    box.fill("And")
    box.press("Shift+Enter")
    box.press_sequentially("Spain?")
    assert box.input_value() == "And\nSpain?"
    expect(page.locator(".turn.user")).to_have_count(1)
    body = send(page, box.input_value())
    conversation = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": expected},
        {"role": "user", "content": "And\nSpain?"},
    ]
    assert body["model"] == "rlhf" and body["messages"] == conversation and body["seed"] == 7
    expected = reply_of(chat_server, "rlhf", conversation, temperature=1, seed=7, max_tokens=8)
    assert expected.strip() and last_reply(page) == ("rlhf", expected)
    expect(page.locator(".turn.assistant .speaker")).to_have_text(["sft", "rlhf"])
    expect(page.locator(".note")).to_have_count(0)  # nothing dropped: the reference was the whole conversation

    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator("#conversation > *")).to_have_count(0)
    body = send(page, "Hello")
    assert body["messages"] == [{"role": "user", "content": "Hello"}]  # the cleared turns are not sent


def test_chat_models_come_first(chat_server, tmp_path):
    """A base model listed first by the server (as `crisol serve` lists base, sft, rlhf) is not the
    default: the page sorts chat models first. The micro pipeline has no servable base model, so the
    model list is the server's own with a base card put in front."""
    cards = httpx.get(chat_server + "/v1/models").json()["data"]
    base = {**cards[0], "id": "base", "chat": False}
    with browser_page(chat_server, tmp_path) as page:
        page.route("**/v1/models", lambda route: route.fulfill(json={"object": "list", "data": [base, *cards]}))
        page.goto(chat_server + "/")
        model = page.get_by_label("Model", exact=True)
        expect(model.locator("option")).to_have_text([*(c["id"] for c in cards), "base (not chat-tuned)"])
        expect(model).to_have_value(cards[0]["id"])


def test_stop_abandons_the_request(page):
    """The request is held at the browser's network layer, so Stop always comes before any reply."""
    held = []
    page.route("**/v1/chat/completions", lambda route: held.append(route))
    box, stop = page.get_by_label("Message", exact=True), page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_disabled()
    box.fill("Hello")
    box.press("Enter")
    expect(stop).to_be_enabled()
    stop.click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    expect(stop).to_be_disabled()
    assert len(held) == 1
    expect(page.locator(".turn.user .content")).to_have_text(["Hello"])  # asked, and stopped by the user
    expect(page.locator(".turn.assistant")).to_have_count(0)
    expect(page.get_by_role("alert")).to_be_hidden()  # a stop is no error


def test_old_turns_give_way_when_the_context_is_full(page, chat_server):
    """Max tokens chosen so the newest message fits only alone: the page drops the older exchange
    and retries; asking for the whole context then fails with the error shown and nothing lost."""
    page.get_by_label("Temperature", exact=True).fill("0")
    page.get_by_label("Max tokens", exact=True).fill("4")
    send(page, "Hi there")
    _, answer = last_reply(page)
    context = next(m["max_model_len"] for m in httpx.get(chat_server + "/v1/models").json()["data"] if m["id"] == "sft")
    question = [{"role": "user", "content": "Tell me more"}]
    alone = api_chat(chat_server, "sft", question, max_tokens=1)["usage"]["prompt_tokens"]
    room = context - alone

    page.get_by_label("Max tokens", exact=True).fill(str(room))
    send(page, question[0]["content"])
    expect(page.locator(".note")).to_have_text(["2 older messages dropped to fit sft's context."])
    expect(page.locator(".turn.dropped .content")).to_have_text(["Hi there", answer])
    assert last_reply(page) == ("sft", reply_of(chat_server, "sft", question, temperature=0, max_tokens=room))

    page.get_by_label("Max tokens", exact=True).fill(str(context))
    box = page.get_by_label("Message", exact=True)
    box.fill("Again")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("maximum context length")
    expect(box).to_have_value("Again")  # back in the box, to shorten or resend
    expect(page.locator(".turn:not(.dropped)")).to_have_count(2)  # the last exchange is still there
    expect(page.locator(".note")).to_have_count(1)


def test_an_error_body_is_shown_and_the_api_key_then_works(rlhf_pipeline, tmp_path):
    with running_server({"sft": rlhf_pipeline["sft"]}, api_key="k") as url, browser_page(url, tmp_path) as page:
        refused = httpx.get(url + "/v1/models")
        assert refused.status_code == 401
        page.goto(url + "/")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(refused.json()["error"]["message"])

        key = page.get_by_label("API key", exact=True)
        key.fill("k")
        key.press("Tab")  # the key is committed when the field is left
        expect(alert).to_be_hidden()
        expect(page.get_by_label("Model", exact=True)).to_have_value("sft")
        page.get_by_label("Temperature", exact=True).fill("0")
        body = send(page, "Hello")
        assert last_reply(page) == ("sft", reply_of(url, "sft", body["messages"], api_key="k", temperature=0))

        page.reload()  # the key is remembered in this browser
        expect(page.get_by_label("API key", exact=True)).to_have_value("k")
        expect(page.get_by_label("Model", exact=True)).to_have_value("sft")
