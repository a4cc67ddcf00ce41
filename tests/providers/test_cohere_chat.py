"""The OpenAI <-> Cohere v2 Chat translation, table-driven both ways: requests, replies, streams and errors (no
network: the wire objects only)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest

from core import errors
from core.errors import InvalidRequestError
from core.model_types import ProviderContext
from core.openai.chat import ChatCompletionRequest
from providers.cohere.chat import ChatReply, build_request, chat_completion
from providers.cohere.provider import CohereProvider
from providers.cohere.stream import CohereStream
from tests.providers.streams import client_events, provider_context, upstream

IMAGE = "data:image/png;base64,iVBORw0KGgo="
MODEL = "command-r7b-12-2024"
WEATHER = {"type": "function", "function": {"name": "weather", "description": "Weather now",
                                            "parameters": {"type": "object"}}}
CLOCK = {"type": "function", "function": {"name": "clock", "strict": True}}


def cohere_body(vision: bool = False, **openai: Any) -> dict[str, Any]:
    raw = {"model": "c", **openai}
    return build_request(msgspec.convert(raw, ChatCompletionRequest), raw, MODEL, vision)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


HI = {"role": "user", "content": "Hi"}


@pytest.mark.parametrize(("openai", "expected"), [
    pytest.param({"messages": [user("Hi")]}, {"messages": [HI]}, id="only what the client sent"),
    pytest.param({"messages": [{"role": "system", "content": "Be brief."},
                               {"role": "developer", "content": [{"type": "text", "text": "No."}]}, user("Hi")],
                  "stream": True, "max_completion_tokens": 50, "stop": "END", "temperature": 0.5, "top_p": 0.9,
                  "top_k": 40, "seed": 3, "frequency_penalty": 0.1, "presence_penalty": 0.2, "user": "u-1",
                  "parallel_tool_calls": False, "safety_mode": "STRICT"},
                 {"messages": [{"role": "system", "content": "Be brief."},
                               {"role": "system", "content": [{"type": "text", "text": "No."}]}, HI],
                  "stream": True, "max_tokens": 50, "stop_sequences": ["END"], "temperature": 0.5, "p": 0.9, "k": 40,
                  "seed": 3, "frequency_penalty": 0.1, "presence_penalty": 0.2, "safety_mode": "STRICT"},
                 id="system and developer messages; sampling, stop, stream; Cohere's own safety_mode"),
    pytest.param({"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What is this?"},
                     {"type": "image_url", "image_url": {"url": IMAGE}},
                     {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]}],
                  "vision": True},
                 {"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What is this?"},
                     {"type": "image_url", "image_url": {"url": IMAGE}},
                     {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]}]},
                 id="images for a vision model"),
    pytest.param({"messages": [
                     user("Weather in Paris and the time?"),
                     {"role": "assistant", "content": "I will look.", "tool_calls": [
                         {"id": "weather_1", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                         {"id": "clock_2", "type": "function", "function": {"name": "clock", "arguments": ""}}]},
                     {"role": "tool", "tool_call_id": "weather_1", "content": "18C"},
                     {"role": "tool", "tool_call_id": "clock_2", "content": [{"type": "text", "text": "noon"}]},
                     {"role": "assistant", "content": "18C at noon."}, user("Thanks")],
                  "tools": [WEATHER, CLOCK], "tool_choice": "required"},
                 {"messages": [
                     user("Weather in Paris and the time?"),
                     {"role": "assistant", "tool_plan": "I will look.", "tool_calls": [
                         {"id": "weather_1", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                         {"id": "clock_2", "type": "function", "function": {"name": "clock", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": "weather_1", "content": "18C"},
                     {"role": "tool", "tool_call_id": "clock_2", "content": "noon"},
                     {"role": "assistant", "content": "18C at noon."}, user("Thanks")],
                  "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                                                              "parameters": {"type": "object"}}},
                            {"type": "function", "function": {"name": "clock",
                                                              "parameters": {"type": "object", "properties": {}}}}],
                  "strict_tools": True, "tool_choice": "REQUIRED"},
                 id="tool calls with their plan, tool results, strict tools, required"),
    pytest.param({"messages": [user("Hi")], "tools": [WEATHER, CLOCK],
                  "tool_choice": {"type": "function", "function": {"name": "weather"}}},
                 {"messages": [HI], "tools": [{"type": "function", "function": {
                     "name": "weather", "description": "Weather now", "parameters": {"type": "object"}}}],
                  "tool_choice": "REQUIRED"},
                 id="a named tool choice offers only that tool"),
    pytest.param({"messages": [user("Hi")], "tools": [WEATHER], "tool_choice": "none"},
                 {"messages": [HI], "tool_choice": "NONE", "tools": [WEATHER]}, id="tool choice none"),
    pytest.param({"messages": [user("Hi")], "tool_choice": "none"}, {"messages": [HI]},
                 id="tool choice none without tools says nothing"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_schema", "json_schema": {
                     "name": "a", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}}},
                 {"messages": [HI], "response_format": {"type": "json_object", "json_schema": {
                     "type": "object", "properties": {"x": {"type": "integer"}}}}},
                 id="structured output"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_object"}},
                 {"messages": [HI], "response_format": {"type": "json_object"}}, id="JSON mode"),
    pytest.param({"messages": [user("Hi")], "thinking": {"type": "enabled", "token_budget": 512}},
                 {"messages": [HI], "thinking": {"type": "enabled", "token_budget": 512}},
                 id="Cohere's own thinking passes through"),
    pytest.param({"messages": [user("Hi")], "reasoning_effort": "medium"},
                 {"messages": [HI], "thinking": {"type": "enabled", "token_budget": 8192}},
                 id="reasoning effort as a thinking budget"),
    pytest.param({"messages": [user("Hi")], "reasoning_effort": "none"},
                 {"messages": [HI], "thinking": {"type": "disabled"}}, id="reasoning effort none: thinking off"),
    pytest.param({"messages": [user("Hi")], "n": 1, "logprobs": False, "response_format": {"type": "text"}},
                 {"messages": [HI]}, id="unsupported parameters at their neutral values are accepted"),
])
def test_requests_translate(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert cohere_body(**openai) == {"model": MODEL, **expected}


@pytest.mark.parametrize(("openai", "param"), [
    ({"messages": [user("Hi")], "reasoning_effort": "xhigh"}, "reasoning_effort"),
    ({"messages": [user("Hi")], "reasoning_effort": "low", "thinking": {"type": "disabled"}}, "reasoning_effort"),
    ({"messages": [user("Hi")], "n": 2}, "n"),
    ({"messages": [user("Hi")], "logprobs": True}, "logprobs"),
    ({"messages": [user("Hi")], "top_logprobs": 2}, "top_logprobs"),
    ({"messages": [user("Hi")], "logit_bias": {"1": 2}}, "logit_bias"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                 {"type": "image_url", "image_url": {"url": IMAGE}}]}]},
     "messages[0].content[1]"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}],
      "vision": True}, "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio",
                                                  "input_audio": {"data": "AA==", "format": "wav"}}]}]},
     "messages[0].content[0]"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": IMAGE}}]}]},
     "messages[0].content[0]"),
    ({"messages": [user("Hi"), {"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
    ({"messages": [user("Hi")], "tools": [{"type": "custom", "custom": {"name": "c"}}]}, "tools[0]"),
    ({"messages": [user("Hi")], "tool_choice": "required"}, "tool_choice"),
    ({"messages": [user("Hi")], "tools": [WEATHER], "tool_choice": {"type": "function",
                                                                    "function": {"name": "clock"}}}, "tool_choice"),
    ({"messages": [user("Hi")], "tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
])
def test_what_cohere_cannot_do_is_a_400_naming_the_parameter(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        cohere_body(**openai)
    assert caught.value.param == param and caught.value.message


# -- replies -----------------------------------------------------------------------------------------------------


def reply(message: dict[str, Any], finish_reason: str = "COMPLETE", **usage: Any) -> ChatReply:
    body = {"id": "5c7a", "message": {"role": "assistant", **message}, "finish_reason": finish_reason,
            "usage": usage or {"billed_units": {"input_tokens": 5, "output_tokens": 3},
                               "tokens": {"input_tokens": 71.0, "output_tokens": 4.0}}}
    return msgspec.json.decode(msgspec.json.encode(body), type=ChatReply)


TEXT = {"content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Hel"},
                    {"type": "text", "text": "lo"}]}


@pytest.mark.parametrize(("finish_reason", "expected"), [
    ("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"), ("MAX_TOKENS", "length"), ("TOOL_CALL", "tool_calls"),
    ("SOMETHING_NEW", "stop"),
])
def test_finish_reasons(finish_reason: str, expected: str) -> None:
    assert chat_completion(reply(TEXT, finish_reason), MODEL).choices[0].finish_reason == expected


def test_a_reply_joins_its_text_and_thinking_and_counts_tokens_not_billed_units() -> None:
    completion = msgspec.to_builtins(chat_completion(reply(TEXT), MODEL))
    assert completion["choices"] == [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
        "role": "assistant", "content": "Hello", "reasoning_content": "hmm", "refusal": None, "tool_calls": None}}]
    assert completion["usage"] == {"prompt_tokens": 71, "completion_tokens": 4, "total_tokens": 75}
    assert (completion["id"], completion["model"], completion["object"]) == ("5c7a", MODEL, "chat.completion")
    thoughts = {"content": [{"type": "thinking", "thinking": "One, "}, {"type": "thinking", "thinking": "two."},
                            {"type": "text", "text": "Two."}]}
    message = msgspec.to_builtins(chat_completion(reply(thoughts), MODEL).choices[0].message)
    assert (message["content"], message["reasoning_content"]) == ("Two.", "One, two.")
    plain = msgspec.to_builtins(chat_completion(reply({"content": [{"type": "text", "text": "Hi"}]}), MODEL))
    assert "reasoning_content" not in plain["choices"][0]["message"]  # no thinking, no field


def test_a_tool_call_reply_has_the_plan_as_content() -> None:
    calls = [{"id": "weather_ab12", "type": "function", "function": {"name": "weather", "arguments": '{"c":1}'}}]
    thought = [{"type": "thinking", "thinking": "The weather needs a tool."}]
    completion = chat_completion(reply({"content": thought, "tool_plan": "I will look.", "tool_calls": calls},
                                       "TOOL_CALL"), MODEL)
    message = msgspec.to_builtins(completion.choices[0].message)
    assert message["content"] == "I will look." and message["tool_calls"] == calls
    assert message["reasoning_content"] == "The weather needs a tool."
    bare = chat_completion(reply({"tool_calls": calls}, "TOOL_CALL"), MODEL).choices[0].message
    assert bare.content is None and bare.tool_calls is not None


@pytest.mark.parametrize(("usage", "expected"), [
    ({"billed_units": {"input_tokens": 5, "output_tokens": 3}}, (5, 3, None)),
    ({"tokens": {"input_tokens": 9, "output_tokens": 4}, "cached_tokens": 6}, (9, 4, 6)),
])
def test_usage_falls_back_to_billed_units_and_counts_cache_hits(usage: dict[str, Any],
                                                                expected: tuple[int, int, int | None]) -> None:
    found = chat_completion(reply(TEXT, **usage), MODEL).usage
    assert found is not None
    cached = found.prompt_tokens_details.cached_tokens if found.prompt_tokens_details else None
    assert (found.prompt_tokens, found.completion_tokens, cached) == expected


# -- streams -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context() -> ProviderContext:
    return provider_context("cohere", "co", {"api_key": "k"})


def sse(kind: str, **data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def content(text: str, index: int = 0, kind: str = "text") -> bytes:
    return sse("content-delta", index=index, delta={"message": {"content": {kind: text}}})


def content_start(index: int, kind: str) -> bytes:
    return sse("content-start", index=index, delta={"message": {"content": {"type": kind, kind: ""}}})


START = sse("message-start", id="5c7a", delta={"message": {"role": "assistant", "content": [], "tool_plan": "",
                                                            "tool_calls": [], "citations": []}})
USAGE = {"billed_units": {"input_tokens": 2, "output_tokens": 2}, "tokens": {"input_tokens": 8, "output_tokens": 3}}


def end(finish_reason: str = "COMPLETE", **delta: Any) -> bytes:
    return sse("message-end", delta={"finish_reason": finish_reason, "usage": USAGE, **delta})


async def translate(context: ProviderContext, *reads: bytes, usage: bool = False) -> list[dict[str, Any]]:
    provider = CohereProvider(context)
    events = await client_events(CohereStream(upstream(*reads), context, MODEL, usage, provider._unfinished))
    await provider.aclose()
    return events


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] | {"finish": e["choices"][0]["finish_reason"]} for e in events if e.get("choices")]


async def test_a_stream_becomes_chunks_split_reads_included(context: ProviderContext) -> None:
    thinking = content_start(0, "thinking") + content("The user", 0, "thinking") + content(" said hi.", 0, "thinking")
    whole = START + thinking + sse("content-end", index=0) + content_start(1, "text") + (
        content("Hel", 1) + content("lo", 1) + sse("content-end", index=1) + end())
    events = await translate(context, whole[:30], whole[30:200], whole[200:] + b"data: [DONE]\n\n", usage=True)
    assert deltas(events) == [{"role": "assistant", "content": "", "finish": None},
                              {"reasoning_content": "The user", "finish": None},
                              {"reasoning_content": " said hi.", "finish": None},
                              {"content": "Hel", "finish": None}, {"content": "lo", "finish": None},
                              {"finish": "stop"}]
    assert events[-2]["choices"] == [] and events[-2]["usage"] == {"prompt_tokens": 8, "completion_tokens": 3,
                                                                   "total_tokens": 11}
    assert events[-1] == {"done": True} and {e["id"] for e in events[:-1]} == {"5c7a"}
    assert all(e["model"] == MODEL for e in events[:-1])


async def test_streamed_tool_calls_are_indexed_per_call(context: ProviderContext) -> None:
    def start(index: int, call_id: str, name: str) -> bytes:
        return sse("tool-call-start", index=index, delta={"message": {"tool_calls": {
            "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}}})

    def piece(index: int, arguments: str) -> bytes:
        return sse("tool-call-delta", index=index, delta={"message": {"tool_calls": {
            "function": {"arguments": arguments}}}})

    plan = sse("tool-plan-delta", delta={"message": {"tool_plan": "I will look."}})
    events = await translate(context, START, plan, start(0, "weather_1", "weather"), piece(0, '{"c":'), piece(0, "1}"),
                             sse("tool-call-end", index=0), start(1, "clock_2", "clock"), piece(1, "{}"),
                             sse("tool-call-end", index=1), end("TOOL_CALL"))
    assert deltas(events)[1:] == [
        {"content": "I will look.", "finish": None},
        {"tool_calls": [{"index": 0, "id": "weather_1", "type": "function",
                         "function": {"name": "weather", "arguments": ""}}], "finish": None},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"c":'}}], "finish": None},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}], "finish": None},
        {"tool_calls": [{"index": 1, "id": "clock_2", "type": "function",
                         "function": {"name": "clock", "arguments": ""}}], "finish": None},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}], "finish": None},
        {"finish": "tool_calls"}]
    assert events[-1] == {"done": True}


@pytest.mark.parametrize(("reads", "code", "words"), [
    ((START, content("Hel")), "upstream_stream_interrupted", "before it was complete"),
    ((START, content("Hel"), end("ERROR", error="internal server error")), "upstream_error",
     "could not finish the answer (ERROR): internal server error"),
    ((START, end("TIMEOUT")), "upstream_timeout", "(TIMEOUT)"),
    ((START, b"data: <html>\n\n"), "upstream_invalid_event", "not a Cohere chat event"),
])
async def test_a_broken_stream_ends_with_an_error_event(context: ProviderContext, reads: tuple[bytes, ...],
                                                        code: str, words: str) -> None:
    events = await translate(context, *reads)
    error = events[-1]["error"]
    assert error["code"] == code and words in error["message"] and "'co'" in error["message"]
    assert {"done": True} not in events


# -- errors ------------------------------------------------------------------------------------------------------


def error_body(message: str) -> bytes:
    return msgspec.json.encode({"id": "8b1e", "message": message})


@pytest.mark.parametrize(("status", "message", "headers", "cls", "code", "param"), [
    (400, "too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4292.", {},
     errors.InvalidRequestError, "context_length_exceeded", "messages"),
    (400, "too many tokens: size limit exceeded by 11326 tokens.", {}, errors.InvalidRequestError,
     "context_length_exceeded", "messages"),
    (400, "too many tokens: max tokens must be less than or equal to 4096, the maximum output for this model - "
          "received 8192.", {}, errors.InvalidRequestError, None, None),
    (401, "invalid api token", {}, errors.ProviderAuthenticationError, "provider_authentication_failed", None),
    (402, "Please add or update your payment method", {}, errors.ProviderAccountError, "provider_account_blocked",
     None),
    (404, "model 'command-x' not found, make sure the correct model ID was used", {}, errors.ModelNotFoundError,
     "model_not_found", "model"),
    (429, "You are past the per minute request limit", {"retry-after": "7"}, errors.RateLimitError,
     "rate_limit_exceeded", None),
    (499, "request cancelled", {}, errors.UpstreamError, "upstream_error", None),
    (500, "internal server error", {}, errors.UpstreamError, "upstream_error", None),
    (503, "service unavailable", {}, errors.UpstreamUnavailableError, "upstream_unavailable", None),
])
async def test_cohere_errors(context: ProviderContext, status: int, message: str, headers: dict[str, str],
                             cls: type[errors.ModelRuntimeError], code: str | None, param: str | None) -> None:
    provider = CohereProvider(context)
    error = provider.error_from(status, httpx.Headers(headers), error_body(message))
    await provider.aclose()
    assert type(error) is cls and (error.code, error.param) == (code, param)
    assert error.retry_after == (7.0 if headers else None)
