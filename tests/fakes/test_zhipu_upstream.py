"""Proves `FakeZhipu` faithful: Zhipu's official `zhipuai` SDK must send what the fake reads and parse all it
answers (chat, streams, tool calls, thinking, vision, embeddings, both ways of authenticating, errors).

The SDK parses leniently (pydantic models that keep what they do not know), so raw httpx checks the wire itself:
content types, the SSE framing and `[DONE]`, and the error bodies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import zhipuai  # type: ignore[import-untyped]  # ships no py.typed

from tests.fakes.zhipu_upstream import (
    BUSINESS,
    NETWORK_ERROR,
    SENSITIVE_INPUT,
    SENSITIVE_OUTPUT,
    FakeZhipu,
    sign_token,
)

KEY = "0f1e2d3c4b5a.S3cretPart"
WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                 "parameters": {"type": "object", "properties": {
                                                     "city": {"type": "string"}, "days": {"type": "integer"}}}}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeZhipu]:
    with FakeZhipu(KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeZhipu) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeZhipu) -> Iterator[zhipuai.ZhipuAI]:
    sdk = zhipuai.ZhipuAI(api_key=KEY, base_url=fake.api_url, max_retries=0)
    yield sdk
    sdk.close()


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def post(fake: FakeZhipu, route: str, body: Any, key: str = KEY) -> httpx.Response:
    return httpx.post(fake.api_url + route, json=body, headers={"authorization": f"Bearer {key}"})


def test_chat_answers_with_reasoning_and_usage(client: zhipuai.ZhipuAI, fake: FakeZhipu) -> None:
    reply = client.chat.completions.create(model="glm-4.5", messages=[
        {"role": "system", "content": "Be brief."}, *user("hello there friend")])
    choice = reply.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("echo: hello there friend", "stop")
    assert choice.message.reasoning_content == "The user said: hello there friend"
    assert reply.usage.prompt_tokens == 5 and reply.usage.completion_tokens == 4 + 6
    assert reply.id == reply.request_id and reply.id is not None and len(reply.id) == 30 and reply.model == "glm-4.5"
    sent = fake.requests[-1]
    assert (sent.path, sent.headers["authorization"]) == ("/api/paas/v4/chat/completions", f"Bearer {KEY}")
    quiet = client.chat.completions.create(model="glm-4.5", messages=user("hi"), thinking={"type": "disabled"})
    assert quiet.choices[0].message.reasoning_content is None
    assert client.chat.completions.create(model="glm-4-flash", messages=user("hi")).usage.completion_tokens == 2


def test_a_stream_is_sse_ending_with_the_reason_usage_and_done(client: zhipuai.ZhipuAI, fake: FakeZhipu) -> None:
    chunks = list(client.chat.completions.create(model="glm-4.6", messages=user("count these words"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: count these words"
    assert "".join(c.choices[0].delta.reasoning_content or "" for c in chunks) == "The user said: count these words"
    assert all(c.choices[0].delta.role == "assistant" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 3 + 4 + 6
    assert all(c.usage is None for c in chunks[:-1]) and len({c.id for c in chunks}) == 1
    raw = post(fake, "/chat/completions", {"model": "glm-4-flash", "messages": user("a b"), "stream": True})
    assert raw.headers["content-type"] == "text/event-stream;charset=UTF-8"
    events = raw.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: {") for e in events[:-2])


def test_tool_calls_whole_and_streamed(client: zhipuai.ZhipuAI) -> None:
    asked = user("get_weather city=Paris days=3 please")
    whole = client.chat.completions.create(model="glm-4.5-air", messages=asked, tools=[WEATHER])
    calls = whole.choices[0].message.tool_calls or []
    assert whole.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    assert (calls[0].function.name, json.loads(calls[0].function.arguments)) == ("get_weather",
                                                                                 {"city": "Paris", "days": 3})
    assert calls[0].id.startswith("call_") and len(calls[0].id) == 24 and calls[0].type == "function"
    streamed = list(client.chat.completions.create(model="glm-4.5-air", messages=asked, tools=[WEATHER], stream=True))
    deltas = [d for c in streamed for d in c.choices[0].delta.tool_calls or []]
    assert [(d.index, d.id, d.function and d.function.arguments) for d in deltas] == [
        (0, calls[0].id, calls[0].function.arguments)]
    history = [*asked, {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]},
               {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}]
    final = client.chat.completions.create(model="glm-4.5-air", messages=history, tools=[WEATHER])
    assert final.choices[0].message.content == "results: sunny"
    with pytest.raises(zhipuai.APIRequestFailedError) as forced:
        client.chat.completions.create(model="glm-4.5-air", messages=asked, tools=[WEATHER], tool_choice="required")
    assert forced.value.response.json() == {"error": {"code": "1214", "message": "tool_choice 参数非法。请检查文档。"}}


@pytest.mark.parametrize(("extra", "content", "finish"), [
    ({"max_tokens": 2}, "echo: one", "length"),
    ({"stop": ["two"]}, "echo: one ", "stop"),
    ({"response_format": {"type": "json_object"}}, '{"echo": "one two three"}', "stop"),
])
def test_limits_and_json_mode(client: zhipuai.ZhipuAI, extra: dict[str, Any], content: str, finish: str) -> None:
    reply = client.chat.completions.create(model="glm-4-flash", messages=user("one two three"), **extra)
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == (content, finish)


def test_images_for_vision_models_only(client: zhipuai.ZhipuAI) -> None:
    looked = [{"role": "user", "content": [{"type": "text", "text": "what is it"},
                                           {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}]
    seen = client.chat.completions.create(model="glm-4.5v", messages=looked, thinking={"type": "disabled"})
    assert seen.choices[0].message.content == "echo: what is it [images: 1]"
    with pytest.raises(zhipuai.APIRequestFailedError):
        client.chat.completions.create(model="glm-4-flash", messages=looked)


def test_embeddings_in_order_with_dimensions(client: zhipuai.ZhipuAI, fake: FakeZhipu) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    embedded = client.embeddings.create(model="embedding-3", input=texts, dimensions=256)
    assert [d.index for d in embedded.data] == [0, 1, 2] and {len(d.embedding) for d in embedded.data} == {256}
    assert embedded.usage.prompt_tokens == 6 and embedded.model == "embedding-3"
    again = client.embeddings.create(model="embedding-3", input="gamma", dimensions=256)
    assert again.data[0].embedding == embedded.data[1].embedding
    assert len(client.embeddings.create(model="embedding-2", input="x").data[0].embedding) == 1024
    assert len(client.embeddings.create(model="embedding-3", input="x").data[0].embedding) == 2048
    bad: list[dict[str, Any]] = [{"input": ["x"] * 65}, {"input": "x", "dimensions": 300}, {"input": []}]
    for body in bad:
        refused = post(fake, "/embeddings", {"model": "embedding-3", **body})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "1214"
    assert post(fake, "/embeddings", {"model": "glm-4-flash", "input": "x"}).json()["error"]["code"] == "1211"


def test_the_sdk_jwt_and_the_raw_key_both_authenticate(fake: FakeZhipu) -> None:
    signed = zhipuai.ZhipuAI(api_key=KEY, base_url=fake.api_url, max_retries=0, disable_token_cache=False)
    assert signed.chat.completions.create(model="glm-4-flash", messages=user("hi")).choices[0].message.content
    token = fake.requests[-1].headers["authorization"].removeprefix("Bearer ")
    assert token.count(".") == 2 and token != KEY
    assert post(fake, "/chat/completions", {"model": "glm-4-flash", "messages": user("x")},
                sign_token(KEY)).status_code == 200
    cases = [(sign_token(KEY, ttl_s=-1), "1003"), (sign_token("0f1e2d3c4b5a.wrong"), "1002"),
             ("some-other-key", "401")]
    for key, code in cases:
        refused = post(fake, "/chat/completions", {"model": "glm-4-flash", "messages": user("x")}, key)
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, code)
    missing = httpx.post(fake.api_url + "/chat/completions", json={"model": "glm-4-flash", "messages": user("x")})
    assert missing.status_code == 401 and missing.json()["error"] == {"code": "1001", "message": BUSINESS["1001"][1]}
    with pytest.raises(zhipuai.APIAuthenticationError):
        zhipuai.ZhipuAI(api_key="0f1e2d3c4b5a.wrong", base_url=fake.api_url, max_retries=0,
                        disable_token_cache=False).chat.completions.create(model="glm-4-flash", messages=user("x"))


def test_model_prompt_and_content_errors(client: zhipuai.ZhipuAI, fake: FakeZhipu) -> None:
    with pytest.raises(zhipuai.APIRequestFailedError) as unknown:
        client.chat.completions.create(model="glm-9", messages=user("hi"))
    assert unknown.value.response.json()["error"] == {"code": "1211", "message": "模型不存在，请检查模型代码。"}  # noqa: RUF001
    with pytest.raises(zhipuai.APIRequestFailedError) as long:
        client.embeddings.create(model="embedding-2", input="word " * 600)
    assert long.value.response.json()["error"] == {"code": "1261", "message": "Prompt exceeds max length"}
    with pytest.raises(zhipuai.APIRequestFailedError) as filtered:
        client.chat.completions.create(model="glm-4-flash", messages=user(f"tell me about {SENSITIVE_INPUT}"))
    assert filtered.value.response.json()["error"]["code"] == "1301"
    assert "不安全或敏感内容" in filtered.value.response.json()["error"]["message"]
    cut = client.chat.completions.create(model="glm-4-flash", messages=user(f"more on {SENSITIVE_OUTPUT} now"))
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("echo: more ", "sensitive")
    streamed = list(client.chat.completions.create(model="glm-4-flash", stream=True,
                                                   messages=user(f"more on {SENSITIVE_OUTPUT} now")))
    assert streamed[-1].choices[0].finish_reason == "sensitive"
    broken = client.chat.completions.create(model=NETWORK_ERROR, messages=user("a b c"))
    assert broken.choices[0].finish_reason == "network_error"
    refused = post(fake, "/chat/completions", {"model": "glm-4-flash", "messages": user("x"), "temperature": 1.5})
    assert refused.json() == {"error": {"code": "1214", "message": "temperature 参数非法。请检查文档。"}}
    nowhere = post(fake, "/chat/completion", {"model": "glm-4-flash"})
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "Not Found"


@pytest.mark.parametrize(("code", "status", "error"), [
    ("1113", 429, zhipuai.APIReachLimitError),
    ("1302", 429, zhipuai.APIReachLimitError),
    ("1261", 400, zhipuai.APIRequestFailedError),
    ("1002", 401, zhipuai.APIAuthenticationError),
    ("500", 500, zhipuai.APIInternalError),
])
def test_business_code_faults(client: zhipuai.ZhipuAI, code: str, status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=f"fault-code-{code}", messages=user("hi"))
    assert isinstance(caught.value, zhipuai.APIStatusError) and caught.value.status_code == status
    assert caught.value.response.json()["error"] == {"code": code, "message": BUSINESS[code][1]}


def test_status_garbage_cut_and_stall_faults(client: zhipuai.ZhipuAI, fake: FakeZhipu) -> None:
    with pytest.raises(zhipuai.APIReachLimitError) as limited:
        client.chat.completions.create(model="fault-status-429", messages=user("hi"))
    assert limited.value.response.json()["error"]["code"] == "1302"
    with pytest.raises(zhipuai.APIServerFlowExceedError):
        client.embeddings.create(model="fault-status-503", input="x")
    garbage = post(fake, "/chat/completions", {"model": "fault-garbage", "messages": user("x")})
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("text/html")
    streamed = post(fake, "/chat/completions", {"model": "fault-garbage", "messages": user("x"), "stream": True})
    assert streamed.text.split("\n\n")[1].startswith("data: <html>")
    seen: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        seen.extend(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="fault-cut-2", messages=user("a b c d"), stream=True))
    assert "".join(seen) == "echo: a "
    started = time.monotonic()
    with pytest.raises(zhipuai.APITimeoutError):
        zhipuai.ZhipuAI(api_key=KEY, base_url=fake.api_url, max_retries=0, timeout=0.3).chat.completions.create(
            model="fault-stall-5", messages=user("x"))
    assert time.monotonic() - started < 2 and fake.wait_for_disconnect()
