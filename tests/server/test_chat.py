"""Chat completions through the gateway with the official SDK, sync and async, streamed and not."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.fakes.openai_upstream import FakeOpenAI

USER: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "the quick brown fox"},
]
TOOLS: list[ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "get_weather", "description": "weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


def test_chat_non_stream(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="up/gpt-4o-mini", messages=USER)
    assert reply.choices[0].message.content == "echo: the quick brown fox"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == reply.usage.prompt_tokens + 5


def test_route_alias_and_predefined_model(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    assert client.chat.completions.create(model="chat", messages=USER).choices[0].message.content
    assert client.chat.completions.create(model="openai/gpt-4o-mini", messages=USER).model == "gpt-4o-mini"
    # The bare name of a predefined model resolves too; the upstream always gets its own name.
    assert client.chat.completions.create(model="gpt-4o-mini", messages=USER).model == "gpt-4o-mini"
    assert [r.json()["model"] for r in upstream.requests] == ["gpt-4o-mini"] * 3


def test_stream_equals_non_stream(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="up/gpt-4o-mini", messages=USER)
    chunks = list(client.chat.completions.create(model="up/gpt-4o-mini", messages=USER, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_stream_without_include_usage_has_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="up/gpt-4o-mini", messages=USER, stream=True))
    assert all(c.usage is None for c in chunks)


def test_finish_reason_length_and_n(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="up/gpt-4o-mini", messages=USER, max_tokens=2, n=2)
    assert [c.finish_reason for c in reply.choices] == ["length", "length"]
    assert reply.choices[1].message.content == "echo: the"


def test_tool_calls_stream_reassembles_to_non_stream(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="up/gpt-4o-mini", messages=USER, tools=TOOLS)
    calls = whole.choices[0].message.tool_calls or []
    assert whole.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls if c.type == "function"] == ["get_weather", "get_time"]
    with client.chat.completions.stream(model="up/gpt-4o-mini", messages=USER, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls or []
    assert final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in streamed if c.type == "function"] == [
        (c.id, c.function.name, c.function.arguments) for c in calls if c.type == "function"]
    assert json.loads(calls[0].function.arguments if calls[0].type == "function" else "") == {
        "echo": "the quick brown fox"}


def test_forced_tool_choice_and_tool_result_round_trip(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    reply = client.chat.completions.create(
        model="up/gpt-4o-mini", messages=USER, tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}})
    call = (reply.choices[0].message.tool_calls or [])[0]
    assert call.type == "function" and call.function.name == "get_time"
    history: list[ChatCompletionMessageParam] = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "noon"},
        {"role": "user", "content": "thanks"},
    ]
    upstream.clear()
    assert client.chat.completions.create(model="up/gpt-4o-mini", messages=history).choices[0].message.content == (
        "echo: thanks")
    sent = upstream.requests[-1].json()["messages"]
    assert sent[2]["tool_calls"][0]["id"] == call.id and sent[3] == {"role": "tool", "tool_call_id": call.id,
                                                                     "content": "noon"}


def test_image_parts_round_trip(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    reply = client.chat.completions.create(model="up/gpt-4o-mini", messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]}])
    assert reply.choices[0].message.content == "echo: what is this [images: 2]"
    parts = upstream.requests[-1].json()["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                           "detail": "low"}}


def test_unknown_fields_reach_the_upstream(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    client.chat.completions.create(
        model="up/gpt-4o-mini", messages=USER, seed=7, stop=["\n"], logprobs=True, top_logprobs=2,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        extra_body={"brand_new_param": {"nested": [1, 2]}, "top_k": 40})
    sent = upstream.requests[-1].json()
    assert sent["brand_new_param"] == {"nested": [1, 2]} and sent["top_k"] == 40
    assert sent["seed"] == 7 and sent["stop"] == ["\n"] and sent["top_logprobs"] == 2
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}
    # The gateway authenticates upstream with its own credentials, never the client's key.
    assert upstream.requests[-1].headers["authorization"] == "Bearer sk-fake-upstream-key-canary-7f3a9c"


def test_newer_openai_types_pass_through(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    """Types OpenAI adds (custom tools, new part types, new detail levels) reach an OpenAI-wire upstream as sent."""
    upstream.clear()
    tools: Any = [{"type": "custom", "custom": {"name": "sql", "format": {"type": "text"}}},
                  {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    content: Any = [{"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "original"}},
                    {"type": "input_video", "input_video": {"url": "https://example.com/a.mp4"}}]
    tool_choice: Any = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    client.chat.completions.create(model="up/gpt-4o-mini", messages=[{"role": "user", "content": content}],
                                   tools=tools, tool_choice=tool_choice)
    sent = upstream.requests[-1].json()
    assert sent["tools"] == tools and sent["messages"][0]["content"] == content
    assert sent["tool_choice"] == tool_choice


async def test_async_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    async with aclient:
        whole = await aclient.chat.completions.create(model="up/gpt-4o-mini", messages=USER)
        stream = await aclient.chat.completions.create(model="up/gpt-4o-mini", messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == whole.choices[0].message.content == "echo: the quick brown fox"


@pytest.mark.parametrize("model", ["chat", "up/some-model-the-gateway-never-heard-of"])
async def test_async_tool_stream(aclient: openai.AsyncOpenAI, model: str) -> None:
    async with aclient, aclient.chat.completions.stream(model=model, messages=USER, tools=TOOLS[:1]) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["get_weather"]


def test_parameter_rules_apply_to_predefined_models(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="openai/gpt-4o-mini", messages=USER, temperature=2.5)
    assert caught.value.param == "temperature" and "at most 2" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="openai/o3", messages=USER, reasoning_effort="minimal")
    assert caught.value.param == "reasoning_effort"
    upstream.clear()
    client.chat.completions.create(model="openai/o3", messages=USER, max_tokens=20)
    sent = upstream.requests[-1].json()  # o3 takes max_completion_tokens: the template name is renamed
    assert sent["max_completion_tokens"] == 20 and "max_tokens" not in sent
    client.chat.completions.create(model="up/o3", messages=USER, max_tokens=20, temperature=2.5)
    sent = upstream.requests[-1].json()  # a pass-through model has no rules: everything goes as sent
    assert sent["max_tokens"] == 20 and sent["temperature"] == 2.5
