"""The OpenAI <-> Ollama ``/api/chat`` translation, table-driven both ways, and the NDJSON stream translation
(no network: wire objects, and streams as ``httpx.Response`` bodies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from core.errors import InvalidRequestError
from core.model_types import ProviderContext
from core.openai.chat import ChatCompletionRequest
from core.translate import json_lines
from providers.ollama.messages import ChatResponse, build_request, chat_completion
from providers.ollama.stream import OllamaStream
from tests.providers.streams import client_events, provider_context, upstream

IMAGE = "data:image/png;base64,iVBORw0KGgo="
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}


def ollama_body(context_size: int | None = None, **openai: Any) -> dict[str, Any]:
    raw = {"model": "llama3.2", **openai}
    return build_request(msgspec.convert(raw, ChatCompletionRequest), raw, "llama3.2", context_size)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


HI = {"role": "user", "content": "Hi"}


def body(*messages: dict[str, Any], stream: bool = False, **fields: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "messages": list(messages), "stream": stream, **fields}


@pytest.mark.parametrize(("openai", "expected"), [
    pytest.param({"messages": [user("Hi")]}, body(HI), id="plain, stream sent as false"),
    pytest.param({"messages": [user("Hi")], "stream": True}, body(HI, stream=True), id="streamed"),
    pytest.param({"messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "No."},
                               user("Hi"), {"role": "assistant", "content": "Hello"}, user("Again")]},
                 body({"role": "system", "content": "Be brief."}, {"role": "system", "content": "No."}, HI,
                      {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Again"}),
                 id="roles kept in order, developer as system"),
    pytest.param({"messages": [user("Hi")], "temperature": 0.3, "top_p": 0.8, "top_k": 20, "seed": 7,
                  "presence_penalty": 0.1, "frequency_penalty": 0.2, "max_tokens": 64, "stop": "END"},
                 body(HI, options={"temperature": 0.3, "top_p": 0.8, "top_k": 20, "seed": 7, "presence_penalty": 0.1,
                                   "frequency_penalty": 0.2, "num_predict": 64, "stop": ["END"]}),
                 id="sampling into options"),
    pytest.param({"messages": [user("Hi")], "max_completion_tokens": 9, "options": {"num_ctx": 8192, "top_k": 5},
                  "keep_alive": "10m", "think": False},
                 body(HI, options={"num_ctx": 8192, "top_k": 5, "num_predict": 9}, keep_alive="10m", think=False),
                 id="Ollama's own options, keep_alive and think pass through"),
    pytest.param({"messages": [user("Hi")], "reasoning_effort": "high"}, body(HI, think="high"),
                 id="reasoning effort as think level"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_object"}}, body(HI, format="json"),
                 id="JSON mode"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_schema", "json_schema": {
                     "name": "w", "schema": WEATHER}}}, body(HI, format=WEATHER), id="structured output"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "text"}}, body(HI), id="text format"),
    pytest.param({"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": IMAGE}},
                     {"type": "text", "text": "Be short."}]}]},
                 body({"role": "user", "content": "What?\nBe short.", "images": ["iVBORw0KGgo="]}),
                 id="images as bare base64"),
    pytest.param({"messages": [
                     user("Weather?"),
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "call_1", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                         {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": ""}}]},
                     {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
                     {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]}],
                  "tools": [{"type": "function", "function": {"name": "weather", "description": "Now",
                                                              "parameters": WEATHER}},
                            {"type": "function", "function": {"name": "clock"}}],
                  "tool_choice": "auto", "parallel_tool_calls": False},
                 body({"role": "user", "content": "Weather?"},
                      {"role": "assistant", "content": "", "tool_calls": [
                          {"function": {"name": "weather", "arguments": {"city": "Paris"}}},
                          {"function": {"name": "clock", "arguments": {}}}]},
                      {"role": "tool", "content": "noon", "tool_name": "clock"},
                      {"role": "tool", "content": "sunny", "tool_name": "weather"},
                      tools=[{"type": "function", "function": {"name": "weather", "parameters": WEATHER,
                                                               "description": "Now"}},
                             {"type": "function", "function": {"name": "clock", "parameters": {
                                 "type": "object", "properties": {}}}}]),
                 id="tool calls as objects, results named by call id"),
    pytest.param({"messages": [user("Hi"), {"role": "function", "name": "clock", "content": "noon"}]},
                 body(HI, {"role": "tool", "content": "noon", "tool_name": "clock"}), id="legacy function result"),
    pytest.param({"messages": [user("Hi")], "tools": [{"type": "function", "function": {"name": "f"}}],
                  "tool_choice": "none"}, body(HI), id="tool choice none offers no tools"),
])
def test_requests_translate(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert ollama_body(**openai) == expected


def test_the_configured_context_size_is_num_ctx_unless_the_client_set_one() -> None:
    assert ollama_body(32768, messages=[user("Hi")])["options"] == {"num_ctx": 32768}
    assert ollama_body(32768, messages=[user("Hi")], options={"num_ctx": 2048})["options"] == {"num_ctx": 2048}


@pytest.mark.parametrize(("openai", "param"), [
    ({"messages": [user("Hi")], "n": 2}, "n"),
    ({"messages": [user("Hi")], "logprobs": True}, "logprobs"),
    ({"messages": [user("Hi")], "logit_bias": {"1": 2}}, "logit_bias"),
    ({"messages": [user("Hi")], "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]},
     "tool_choice"),
    ({"messages": [user("Hi")], "tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
    ({"messages": [user("Hi")], "tool_choice": "sometimes"}, "tool_choice"),
    ({"messages": [user("Hi")], "tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0]"),
    ({"messages": [user("Hi"), {"role": "tool", "tool_call_id": "nobody", "content": "x"}]},
     "messages[1].tool_call_id"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA",
                                                                                         "format": "wav"}}]}]},
     "messages[0].content[0]"),
    ({"messages": [user("Hi"), {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
])
def test_what_ollama_cannot_take_is_a_400_naming_the_parameter(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        ollama_body(**openai)
    assert caught.value.param == param


def answer(message: dict[str, Any], **fields: Any) -> ChatResponse:
    wire = {"model": "llama3.2", "created_at": "2025-09-01T12:00:00Z", "message": {"role": "assistant", **message},
            "done": True, **fields}
    return msgspec.json.decode(msgspec.json.encode(wire), type=ChatResponse)  # compact, as Go writes it


CALL = {"function": {"name": "weather", "arguments": {"city": "Paris"}}}


@pytest.mark.parametrize(("message", "done_reason", "finish"), [
    ({"content": "Hi"}, "stop", "stop"),
    ({"content": "Hi"}, "length", "length"),
    ({"content": ""}, "load", "stop"),
    ({"content": "Hi"}, None, "stop"),
    ({"content": "Hi"}, "something_new", "stop"),
    ({"content": "", "tool_calls": [CALL]}, "stop", "tool_calls"),
])
def test_finish_reasons(message: dict[str, Any], done_reason: str | None, finish: str) -> None:
    assert chat_completion(answer(message, done_reason=done_reason), "m").choices[0].finish_reason == finish


def test_responses_translate_text_thinking_and_usage() -> None:
    completion = msgspec.to_builtins(chat_completion(answer(
        {"content": "Paris.", "thinking": "The capital..."}, done_reason="stop", prompt_eval_count=26,
        eval_count=3, total_duration=5_000_000), "m"))
    assert completion["model"] == "llama3.2" and completion["id"].startswith("chatcmpl-")
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "Paris.", "refusal": None,
                                                   "reasoning_content": "The capital...", "tool_calls": None}
    assert completion["usage"] == {"prompt_tokens": 26, "completion_tokens": 3, "total_tokens": 29}


def test_tool_calls_get_json_arguments_and_ids() -> None:
    with_id = {"id": "call_ab12cd34", "function": {"index": 0, "name": "clock", "arguments": {}}}
    completion = msgspec.to_builtins(chat_completion(answer({"content": "", "tool_calls": [CALL, with_id]}), "m"))
    message = completion["choices"][0]["message"]
    assert message["content"] is None
    first, second = message["tool_calls"]
    assert first["id"].startswith("call_") and first["type"] == "function"  # an older Ollama sends no id
    assert first["function"] == {"name": "weather", "arguments": '{"city":"Paris"}'}
    assert second["id"] == "call_ab12cd34" and second["function"] == {"name": "clock", "arguments": "{}"}


def test_a_prompt_read_from_the_cache_counts_zero_prompt_tokens() -> None:
    usage = chat_completion(answer({"content": "Hi"}, eval_count=1), "m").usage
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (0, 1)


# -- streams ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context() -> ProviderContext:
    return provider_context("ollama", "local-ollama")


def line(content: str = "", done: bool = False, **fields: Any) -> bytes:
    wire = {"model": "llama3.2", "created_at": "2025-09-01T12:00:00Z",
            "message": {"role": "assistant", "content": content, **fields.pop("message", {})}, "done": done, **fields}
    return msgspec.json.encode(wire) + b"\n"


async def translate(context: ProviderContext, *reads: bytes, usage: bool = False) -> list[dict[str, Any]]:
    response = upstream(*reads, content_type="application/x-ndjson")
    return await client_events(OllamaStream(response, context, "llama3.2", usage, str))


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] | {"finish": e["choices"][0]["finish_reason"]} for e in events if e.get("choices")]


FINAL = line(done=True, done_reason="stop", prompt_eval_count=5, eval_count=2)


async def test_a_stream_becomes_chunks_split_reads_included(context: ProviderContext) -> None:
    first, second = line("Hel"), line("lo", message={"thinking": "hmm"})
    events = await translate(context, first[:10], first[10:] + second[:5], second[5:] + FINAL, usage=True)
    assert deltas(events) == [{"role": "assistant", "content": "", "finish": None}, {"content": "Hel", "finish": None},
                              {"reasoning_content": "hmm", "finish": None}, {"content": "lo", "finish": None},
                              {"finish": "stop"}]
    assert events[-2]["choices"] == [] and events[-2]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2,
                                                                   "total_tokens": 7}
    assert events[-1] == {"done": True} and len({e["id"] for e in events[:-1]}) == 1


async def test_streamed_tool_calls_are_indexed_with_whole_arguments(context: ProviderContext) -> None:
    calls = [CALL, {"id": "call_x", "function": {"name": "clock", "arguments": {}}}]
    events = await translate(context, line(message={"tool_calls": calls[:1]}), line(message={"tool_calls": calls[1:]}),
                             FINAL)
    found = [d["tool_calls"][0] for d in deltas(events) if "tool_calls" in d]
    assert [(c["index"], c["function"]) for c in found] == [
        (0, {"name": "weather", "arguments": '{"city":"Paris"}'}), (1, {"name": "clock", "arguments": "{}"})]
    assert found[0]["id"].startswith("call_") and found[1]["id"] == "call_x"
    assert deltas(events)[-1] == {"finish": "tool_calls"} and events[-1] == {"done": True}


@pytest.mark.parametrize(("reads", "code"), [
    pytest.param((line("Hi") + b'{"error":"an error was encountered while running the model"}\n',), "upstream_error",
                 id="error line, in the same read as the content before it"),
    pytest.param((line("Hi"),), "upstream_stream_interrupted", id="ended before done"),
    pytest.param((line("Hi"), b"<html>502</html>\n"), "upstream_invalid_event", id="not JSON"),
])
async def test_a_broken_stream_ends_with_an_error_event(context: ProviderContext, reads: tuple[bytes, ...],
                                                        code: str) -> None:
    events = await translate(context, *reads)
    assert deltas(events)[1] == {"content": "Hi", "finish": None}
    error = events[-1]["error"]
    assert error["code"] == code and "'local-ollama'" in error["message"]


async def test_json_lines_waits_for_whole_lines() -> None:
    async def reads() -> AsyncIterator[bytes]:
        for read in (b'{"a":', b'1}\n{"b":2}\n\n{"c"', b":3}"):
            yield read

    assert [found async for found in json_lines(reads())] == [[b'{"a":1}', b'{"b":2}'], [b'{"c":3}']]
