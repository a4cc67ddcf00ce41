"""Cohere chat end to end: OpenAI's chat completions through the gateway to a faithful fake of Cohere's
``/v2/chat``, with the openai SDK: text, streams, tool calls (streamed and reassembled by the SDK), vision,
a reasoning model's thinking as ``reasoning_content``, finish reasons, usage and price, and Cohere's errors as
OpenAI's."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import GATEWAY_KEY
from tests.fakes.cohere_upstream import FakeCohere
from tests.gateway import GatewayProcess

COHERE_KEY = "co-canary-chat-key-5e1d"
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: cohere
    provider: cohere
    credentials: {api_key: "${COHERE_KEY}", base_url: "${COHERE_URL}"}
    models:
      - command-r7b-12-2024
      - {model: command-a-vision-07-2025, model_type: llm, credentials: {vision_support: support}}
      - {model: c4ai-aya-expanse-8b, model_type: llm, credentials: {context_size: "8192"}}
      - command-a-reasoning-08-2025
      - {model: command-nope, model_type: llm}
      - {model: fault-status-429, model_type: llm}
      - {model: fault-status-500, model_type: llm}
      - {model: fault-cut-4, model_type: llm}
      - {model: fault-error, model_type: llm}
  - name: cohere-badkey
    provider: cohere
    credentials: {api_key: "co-wrong-key", base_url: "${COHERE_URL}"}
    models: [command-r7b-12-2024]
routes:
  - model: aya
    deployments: [{target: cohere/c4ai-aya-expanse-8b}]
    context_fallbacks: [cohere/command-r7b-12-2024]
router: {retries: 0}
"""
MODEL = "cohere/command-r7b-12-2024"
REASONING = "cohere/command-a-reasoning-08-2025"
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}},
]
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()


@pytest.fixture(scope="module")
def cohere_fake() -> Iterator[FakeCohere]:
    with FakeCohere(COHERE_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(cohere_fake: FakeCohere) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "COHERE_KEY": COHERE_KEY, "COHERE_URL": cohere_fake.base_url}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_chat_is_translated_and_priced(client: openai.OpenAI, cohere_fake: FakeCohere) -> None:
    cohere_fake.clear()
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "developer", "content": "Be brief."}, *user("Hi there")],
        top_p=0.5, stop=["never"], max_tokens=50, seed=7, extra_body={"top_k": 40})
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Hi there" and reply.choices[0].finish_reason == "stop"
    assert reply.model == "command-r7b-12-2024" and reply.object == "chat.completion"
    sent = cohere_fake.requests[-1]
    assert (sent.path, sent.headers["authorization"]) == ("/v2/chat", f"Bearer {COHERE_KEY}")
    assert sent.json() == {"model": "command-r7b-12-2024", "max_tokens": 50, "stop_sequences": ["never"], "p": 0.5,
                           "k": 40, "seed": 7, "messages": [{"role": "system", "content": "Be brief."},
                                                            {"role": "user", "content": "Hi there"}]}
    # usage is Cohere's `tokens` (words here, plus its prompt template), not the lower billed units
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (13, 4)
    expected = (Decimal("0.0375") * 13 + Decimal("0.15") * 4) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected


def test_a_stream_joins_to_the_same_answer_with_usage(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=user("Count the words in this"))
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("Count the words in this"), stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    assert len({c.id for c in chunks}) == 1


def reasoning_of(chunks: list[ChatCompletionChunk]) -> str:
    """The ``reasoning_content`` of a stream's deltas, joined."""
    return "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks if c.choices)


def test_thinking_is_reasoning_content_streamed_or_not(client: openai.OpenAI, cohere_fake: FakeCohere) -> None:
    whole = client.chat.completions.create(model=REASONING, messages=user("Hi there"))
    assert whole.choices[0].message.content == "echo: Hi there"
    assert whole.choices[0].message.model_extra == {"reasoning_content": "The user said: Hi there"}
    assert "thinking" not in cohere_fake.requests[-1].json()  # Cohere's reasoning models think by default
    chunks = list(client.chat.completions.create(model=REASONING, messages=user("Hi there"), stream=True))
    assert reasoning_of(chunks) == "The user said: Hi there"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: Hi there"

    bounded = client.chat.completions.create(model=REASONING, messages=user("Hi there"),
                                             extra_body={"thinking": {"type": "enabled", "token_budget": 2}})
    assert bounded.choices[0].message.model_extra == {"reasoning_content": "The user"}
    assert cohere_fake.requests[-1].json()["thinking"] == {"type": "enabled", "token_budget": 2}
    off = {"thinking": {"type": "disabled"}}
    quiet = client.chat.completions.create(model=REASONING, messages=user("Hi there"), extra_body=off)
    assert quiet.choices[0].message.content == "echo: Hi there" and quiet.choices[0].message.model_extra == {}
    assert reasoning_of(list(client.chat.completions.create(model=REASONING, messages=user("Hi there"),
                                                            stream=True, extra_body=off))) == ""
    unthinking = client.chat.completions.create(model=REASONING, messages=user("Hi there"), reasoning_effort="none")
    assert cohere_fake.requests[-1].json()["thinking"] == {"type": "disabled"}
    assert unthinking.choices[0].message.model_extra == {}
    client.chat.completions.create(model=REASONING, messages=user("Hi there"), reasoning_effort="low")
    assert cohere_fake.requests[-1].json()["thinking"] == {"type": "enabled", "token_budget": 1024}
    plain = client.chat.completions.create(model=MODEL, messages=user("Hi there"))
    assert plain.choices[0].message.model_extra == {}  # a model that does not think has no reasoning_content


@pytest.mark.parametrize(("extra", "content", "finish"), [
    ({"max_tokens": 2}, "echo: one", "length"),
    ({"stop": "two"}, "echo: one ", "stop"),
])
def test_finish_reasons(client: openai.OpenAI, extra: dict[str, Any], content: str, finish: str) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=user("one two three"), **extra)
    assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == (content, finish)
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("one two three"), stream=True, **extra))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == [finish]


def calls_of(reply: ChatCompletion) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of a reply's function calls."""
    return [(c.id, c.function.name, c.function.arguments) for c in reply.choices[0].message.tool_calls or []
            if c.type == "function"]


def test_streamed_tool_calls_reassemble_to_the_non_streamed_ones(client: openai.OpenAI,
                                                                 cohere_fake: FakeCohere) -> None:
    asked = user("Use get_weather city=Paris days=3 and the clock")
    whole = client.chat.completions.create(model=MODEL, messages=asked, tools=TOOLS)
    with client.chat.completions.stream(model=MODEL, messages=asked, tools=TOOLS) as stream:
        streamed = stream.get_final_completion()
    calls = calls_of(whole)
    assert calls_of(streamed) == calls and [(name, arguments) for _, name, arguments in calls] == [
        ("get_weather", '{"city":"Paris","days":3}'), ("clock", "{}")]
    assert calls[0][0].startswith("get_weather_") and calls[1][0].startswith("clock_")
    for reply in (whole, streamed):
        assert reply.choices[0].finish_reason == "tool_calls"
        assert reply.choices[0].message.content == "I will use get_weather, clock to answer this."
    sent = cohere_fake.requests[-1].json()
    assert sent["tools"][0] == {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "parameters": TOOLS[0]["function"]["parameters"]}}

    # the next turn: the plan and calls go back as Cohere's tool_plan and tool_calls, the results as tool messages
    history = [*asked, whole.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": calls[0][0], "content": "18C"},
               {"role": "tool", "tool_call_id": calls[1][0], "content": [{"type": "text", "text": "noon"}]}]
    final = client.chat.completions.create(model=MODEL, messages=history, tools=TOOLS)
    assert (final.choices[0].message.content, final.choices[0].finish_reason) == ("echo: noon", "stop")
    turns = cohere_fake.requests[-1].json()["messages"]
    assert turns[1] == {"role": "assistant", "tool_plan": "I will use get_weather, clock to answer this.",
                        "tool_calls": [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                                       for i, n, a in calls]}
    assert turns[2:] == [{"role": "tool", "tool_call_id": calls[0][0], "content": "18C"},
                         {"role": "tool", "tool_call_id": calls[1][0], "content": "noon"}]


def test_tool_choice(client: openai.OpenAI, cohere_fake: FakeCohere) -> None:
    named = client.chat.completions.create(model=MODEL, messages=user("Hello"), tools=TOOLS,
                                           tool_choice={"type": "function", "function": {"name": "clock"}})
    assert [c.function.name for c in named.choices[0].message.tool_calls or [] if c.type == "function"] == ["clock"]
    sent = cohere_fake.requests[-1].json()
    assert sent["tool_choice"] == "REQUIRED" and [t["function"]["name"] for t in sent["tools"]] == ["clock"]
    none = client.chat.completions.create(model=MODEL, messages=user("get_weather"), tools=TOOLS, tool_choice="none")
    assert none.choices[0].message.content == "echo: get_weather" and not none.choices[0].message.tool_calls
    assert cohere_fake.requests[-1].json()["tool_choice"] == "NONE"


def test_json_mode_and_images(client: openai.OpenAI, cohere_fake: FakeCohere) -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"n": {"type": "integer"}}}
    shaped = client.chat.completions.create(model=MODEL, messages=user("n=4"), response_format={
        "type": "json_schema", "json_schema": {"name": "n", "schema": schema}})
    assert shaped.choices[0].message.content == '{"n":4}'
    assert cohere_fake.requests[-1].json()["response_format"] == {"type": "json_object", "json_schema": schema}
    looked: list[Any] = [{"role": "user", "content": [{"type": "text", "text": "What is it?"},
                                           {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}]}]
    seen = client.chat.completions.create(model="cohere/command-a-vision-07-2025", messages=looked)
    assert seen.choices[0].message.content == "echo: What is it?"
    assert cohere_fake.requests[-1].json()["messages"][0]["content"][1] == {
        "type": "image_url", "image_url": {"url": PNG, "detail": "low"}}
    with pytest.raises(openai.BadRequestError) as blind:
        client.chat.completions.create(model=MODEL, messages=looked)
    assert blind.value.param == "messages[0].content[1]"


@pytest.mark.parametrize(("extra", "param"), [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"),
                                               ({"top_p": 1.0}, "top_p"), ({"temperature": 1.5}, "temperature")])
def test_what_cohere_cannot_do_is_a_400_naming_the_parameter(client: openai.OpenAI, cohere_fake: FakeCohere,
                                                             extra: dict[str, Any], param: str) -> None:
    cohere_fake.clear()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("Hi"), **extra)
    assert caught.value.param == param and cohere_fake.requests == []


def test_a_prompt_too_long_is_context_length_exceeded_and_falls_back(client: openai.OpenAI) -> None:
    long = user("word " * 9000)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="cohere/c4ai-aya-expanse-8b", messages=long)
    assert caught.value.code == "context_length_exceeded" and "too many tokens" in caught.value.message
    raw = client.chat.completions.with_raw_response.create(model="aya", messages=long, max_tokens=1)
    assert raw.headers["x-model-runtime-deployment"] == MODEL and raw.parse().choices[0].finish_reason == "length"


def test_upstream_errors_are_mapped(client: openai.OpenAI, cohere_fake: FakeCohere, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as auth:
        client.chat.completions.create(model="cohere-badkey/command-r7b-12-2024", messages=user("Hi"))
    assert "'cohere-badkey'" in auth.value.message and "co-wrong-key" not in auth.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="cohere/command-nope", messages=user("Hi"))
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="cohere/fault-status-500", messages=user("Hi"))
    assert failed.value.status_code == 502 and "internal server error" in failed.value.message
    with pytest.raises(openai.InternalServerError) as unfinished:
        client.chat.completions.create(model="cohere/fault-error", messages=user("Hi"))
    assert unfinished.value.status_code == 502 and "(ERROR)" in unfinished.value.message
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="cohere/fault-status-429", messages=user("Hi"))
    assert "retry-after" not in limited.value.response.headers  # Cohere sends none
    cohere_fake.retry_after = "7"
    with pytest.raises(openai.RateLimitError) as told:
        client.chat.completions.create(model="cohere/fault-status-429", messages=user("Hi"))
    assert told.value.response.headers["retry-after"] == "7"
    assert COHERE_KEY not in gateway.log()


def test_a_cut_or_failed_stream_ends_with_an_error_event(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as cut:
        for chunk in client.chat.completions.create(model="cohere/fault-cut-4", messages=user("a b c d e f"),
                                                    stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert cut.value.code == "upstream_stream_interrupted" and "".join(received) == "echo: a"
    with pytest.raises(openai.APIError) as failed:
        list(client.chat.completions.create(model="cohere/fault-error", messages=user("a b c"), stream=True))
    assert "(ERROR)" in failed.value.message and "internal server error" in failed.value.message


def test_an_effort_for_a_model_that_does_not_think_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=user("Hi"), reasoning_effort="low")
    assert caught.value.param == "reasoning_effort" and "does not think" in caught.value.message
