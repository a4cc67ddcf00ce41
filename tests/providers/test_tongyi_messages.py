"""The OpenAI <-> DashScope text generation translation, table-driven both ways, the SSE stream translation and
the error map (no network: wire objects, and streams as ``httpx.Response`` bodies)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest

from core import errors
from core.model_types import ProviderContext
from core.openai.chat import ChatCompletionRequest
from providers.tongyi.errors import error_from_dashscope
from providers.tongyi.messages import Generation, build_request, chat_completion
from providers.tongyi.stream import TongyiStream
from tests.providers.streams import client_events, provider_context, upstream

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
HI = {"role": "user", "content": "Hi"}


def dashscope_body(**openai: Any) -> dict[str, Any]:
    raw = {"model": "qwen-plus", **openai}
    return build_request(msgspec.convert(raw, ChatCompletionRequest), raw, "qwen-plus")


def body(*messages: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    return {"model": "qwen-plus", "input": {"messages": list(messages)},
            "parameters": {"result_format": "message", **parameters}}


@pytest.mark.parametrize(("openai", "expected"), [
    pytest.param({"messages": [HI]}, body(HI), id="plain"),
    pytest.param({"messages": [HI], "stream": True}, body(HI, incremental_output=True), id="streamed: deltas"),
    pytest.param({"messages": [{"role": "developer", "content": [{"type": "text", "text": "Be "},
                                                                 {"type": "text", "text": "brief."}]}, HI]},
                 body({"role": "system", "content": "Be brief."}, HI), id="developer as system, parts joined"),
    pytest.param({"messages": [HI], "temperature": 0.3, "top_p": 0.8, "top_k": 20, "seed": 7, "presence_penalty": 0.1,
                  "repetition_penalty": 1.1, "max_tokens": 64, "stop": "END"},
                 body(HI, temperature=0.3, top_p=0.8, top_k=20, seed=7, presence_penalty=0.1, repetition_penalty=1.1,
                      max_tokens=64, stop=["END"]), id="sampling into parameters"),
    pytest.param({"messages": [HI], "max_completion_tokens": 9, "enable_thinking": True, "thinking_budget": 50,
                  "enable_search": True}, body(HI, enable_thinking=True, thinking_budget=50, enable_search=True,
                                               max_tokens=9), id="DashScope's own knobs pass through"),
    pytest.param({"messages": [HI], "tools": [WEATHER], "tool_choice": "auto", "parallel_tool_calls": False},
                 body(HI, parallel_tool_calls=False, tools=[WEATHER], tool_choice="auto"), id="tools"),
    pytest.param({"messages": [HI], "tools": [WEATHER],
                  "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
                 body(HI, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}},
                      parallel_tool_calls=True), id="a named function, and OpenAI's default of parallel calls"),
    pytest.param({"messages": [HI], "response_format": {"type": "json_object"}},
                 body(HI, response_format={"type": "json_object"}), id="JSON mode"),
    pytest.param({"messages": [HI, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                               {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]},
                 body(HI, {"role": "assistant", "content": "", "tool_calls": [
                     {**CALL, "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
                      {"role": "tool", "content": "sunny", "tool_call_id": "call_1", "name": "get_weather"}),
                 id="tool calls and results, the result named"),
    pytest.param({"messages": [HI], "reasoning_effort": "medium"}, body(HI, enable_thinking=True, thinking_budget=8192),
                 id="reasoning effort as thinking with a budget"),
    pytest.param({"messages": [HI], "reasoning_effort": "none"}, body(HI, enable_thinking=False),
                 id="reasoning effort none: no thinking"),
    pytest.param({"messages": [HI], "enable_thinking": True, "thinking_budget": 50},
                 body(HI, enable_thinking=True, thinking_budget=50), id="DashScope's own thinking passes"),
])
def test_requests(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert dashscope_body(**openai) == expected


@pytest.mark.parametrize(("openai", "param"), [
    pytest.param({"messages": [HI], "n": 2}, "n", id="several choices"),
    pytest.param({"messages": [HI], "logprobs": True}, "logprobs", id="log probabilities"),
    pytest.param({"messages": [HI], "frequency_penalty": 0.5}, "frequency_penalty", id="frequency penalty"),
    pytest.param({"messages": [HI], "tools": [WEATHER], "tool_choice": "required"}, "tool_choice", id="required"),
    pytest.param({"messages": [{"role": "user", "content": [{"type": "image_url",
                                                             "image_url": {"url": "https://x.test/a.png"}}]}]},
                 "messages[0].content[0]", id="images"),
    pytest.param({"messages": [HI, {"role": "tool", "tool_call_id": "nope", "content": "x"}]},
                 "messages[1].tool_call_id", id="a result without its call"),
    pytest.param({"messages": [{"role": "system", "content": "Only this"}]}, "messages", id="no user turn"),
    pytest.param({"messages": [HI], "reasoning_effort": "xhigh"}, "reasoning_effort", id="an effort without a budget"),
    pytest.param({"messages": [HI], "reasoning_effort": "low", "enable_thinking": True}, "reasoning_effort",
                 id="an effort and DashScope's switch"),
])
def test_requests_refused(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as refused:
        dashscope_body(**openai)
    assert refused.value.param == param


def generation(message: dict[str, Any], finish: str = "stop", **usage: Any) -> Generation:
    wire = {"output": {"choices": [{"finish_reason": finish, "message": {"role": "assistant", **message}}]},
            "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7, **usage}, "request_id": "r-1"}
    return msgspec.json.decode(msgspec.json.encode(wire), type=Generation)


@pytest.mark.parametrize(("message", "finish", "content", "calls", "reason"), [
    pytest.param({"content": "Hello"}, "stop", "Hello", None, "stop", id="text"),
    pytest.param({"content": "Hel"}, "length", "Hel", None, "length", id="cut by max_tokens"),
    pytest.param({"content": "", "tool_calls": [{**CALL, "index": 0}]}, "tool_calls", None,
                 [("call_1", "get_weather", '{"city": "Oslo"}')], "tool_calls", id="tool calls"),
])
def test_responses(message: dict[str, Any], finish: str, content: str | None,
                   calls: list[tuple[str, str, str]] | None, reason: str) -> None:
    completion = chat_completion(generation(message, finish), "qwen-plus")
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason, completion.id) == (content, reason, "chatcmpl-r-1")
    found = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or [] if c.function]
    assert (found or None) == calls
    assert completion.usage is not None and (completion.usage.prompt_tokens, completion.usage.total_tokens) == (5, 7)


@pytest.mark.parametrize(("message", "expected"), [
    pytest.param({"content": "Hm", "reasoning_content": "thinking..."},
                 {"role": "assistant", "content": "Hm", "reasoning_content": "thinking...", "refusal": None,
                  "tool_calls": None}, id="thinking as reasoning_content"),
    pytest.param({"content": "Hm", "reasoning_content": ""},
                 {"role": "assistant", "content": "Hm", "refusal": None, "tool_calls": None},
                 id="no thinking, no field"),
])
def test_responses_carry_thinking_as_reasoning_content(message: dict[str, Any], expected: dict[str, Any]) -> None:
    assert msgspec.to_builtins(chat_completion(generation(message), "qwen-plus"))["choices"][0]["message"] == expected


def test_cached_and_thinking_tokens_are_reported() -> None:
    usage = chat_completion(generation({"content": "x"}, prompt_tokens_details={"cached_tokens": 3},
                                       output_tokens_details={"reasoning_tokens": 1}), "m").usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 1


# -- streams ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context() -> ProviderContext:
    return provider_context("tongyi", "qwen")


def event(said: dict[str, Any] | None = None, finish: str = "null", number: int = 1, **error: str) -> bytes:
    """One SSE event: a generation saying `said`, or (given `code` and `message`) an error event."""
    payload: dict[str, Any] = dict(error) or {
        "output": {"choices": [{"finish_reason": finish, "message": {"role": "assistant", **(said or {})}}]},
        "usage": {"input_tokens": 5, "output_tokens": number, "total_tokens": 5 + number}, "request_id": "r-1"}
    kind, status = ("error", 400) if error else ("result", 200)
    return f"id:{number}\nevent:{kind}\n:HTTP_STATUS/{status}\ndata:".encode() + json.dumps(payload).encode() + b"\n\n"


async def translate(context: ProviderContext, *reads: bytes, usage: bool = False) -> list[dict[str, Any]]:
    return await client_events(TongyiStream(upstream(*reads), context, "qwen-plus", usage, str))


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] | {"finish": e["choices"][0]["finish_reason"]} for e in events if e.get("choices")]


async def test_a_stream_becomes_chunks_split_reads_included(context: ProviderContext) -> None:
    whole = event({"content": "Hel"}) + event({"content": "lo"}, number=2) + event({"content": ""}, "stop", 3)
    events = await translate(context, whole[:30], whole[30:77], whole[77:], usage=True)
    assert deltas(events) == [{"role": "assistant", "content": "", "finish": None}, {"content": "Hel", "finish": None},
                              {"content": "lo", "finish": None}, {"finish": "stop"}]
    assert events[-2]["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert events[-1] == {"done": True} and len({e["id"] for e in events[:-1]}) == 1


async def test_streamed_thinking_becomes_reasoning_content_deltas(context: ProviderContext) -> None:
    events = await translate(context, event({"content": "", "reasoning_content": "The user"}),
                             event({"content": "", "reasoning_content": " said"}, number=2),
                             event({"content": "Hi"}, number=3), event({"content": ""}, "stop", 4))
    assert deltas(events) == [{"role": "assistant", "content": "", "finish": None},
                              {"reasoning_content": "The user", "finish": None},
                              {"reasoning_content": " said", "finish": None}, {"content": "Hi", "finish": None},
                              {"finish": "stop"}]


async def test_streamed_tool_calls_keep_their_fragments(context: ProviderContext) -> None:
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    rest = {"index": 0, "id": "", "type": "function", "function": {"arguments": '{"city": "Oslo"}'}}
    events = await translate(context, event({"content": "", "tool_calls": [head]}),
                             event({"content": "", "tool_calls": [rest]}, number=2),
                             event({"content": ""}, "tool_calls", 3))
    calls = [d["tool_calls"][0] for d in deltas(events) if "tool_calls" in d]
    assert calls == [{"index": 0, "id": "call_1", "type": "function",
                      "function": {"name": "get_weather", "arguments": ""}},
                     {"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}]
    assert deltas(events)[-1] == {"finish": "tool_calls"}


async def test_output_moderation_ends_with_content_filter(context: ProviderContext) -> None:
    events = await translate(context, event({"content": "Hel"}), event(number=2, code="DataInspectionFailed",
                                                                        message="Output data may contain ..."))
    assert [d["finish"] for d in deltas(events)] == [None, None, "content_filter"] and events[-1] == {"done": True}


@pytest.mark.parametrize(("reads", "code"), [
    pytest.param((event({"content": "Hel"}),), "upstream_stream_interrupted", id="ended early"),
    pytest.param((event({"content": "Hel"}), b"id:2\nevent:result\ndata:<html>\n\n"), "upstream_invalid_event",
                 id="not JSON"),
    pytest.param((event(code="Throttling.RateQuota", message="Requests rate limit exceeded"),),
                 "rate_limit_exceeded", id="an error event"),
    pytest.param((event(code="InternalError", message="An internal error has occured"),), "upstream_error",
                 id="an unknown error event"),
])
async def test_a_broken_stream_ends_with_an_error_event(context: ProviderContext, reads: tuple[bytes, ...],
                                                        code: str) -> None:
    events = await translate(context, *reads)
    assert events[-1]["error"]["code"] == code


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "message", "cls", "our_code"), [
    (401, "InvalidApiKey", "Invalid API-key provided.", errors.ProviderAuthenticationError,
     "provider_authentication_failed"),
    (429, "Throttling.AllocationQuota", "Allocated quota exceeded", errors.RateLimitError, "rate_limit_exceeded"),
    (400, "DataInspectionFailed", "Input data may contain inappropriate content.", errors.InvalidRequestError,
     "content_filter"),
    (400, "InvalidParameter", "Range of input length should be [1, 30720]", errors.InvalidRequestError,
     "context_length_exceeded"),
    (400, "InvalidParameter", "Model not exist.", errors.ModelNotFoundError, "model_not_found"),
    (404, "ModelNotFound", "Model can not be found.", errors.ModelNotFoundError, "model_not_found"),
    (400, "Arrearage", "Access denied, plesase make sure ...", errors.ProviderAccountError,
     "provider_account_blocked"),
    (403, "AccessDenied", "Access denied.", errors.ProviderAccountError, "provider_permission_denied"),
    (400, "InvalidParameter", "Range of temperature should be [0.0, 2.0)", errors.InvalidRequestError,
     "invalid_value"),
    (500, "InternalError", "An internal error has occured", errors.UpstreamError, "upstream_error"),
    (503, "ServiceUnavailable", "try again later", errors.UpstreamUnavailableError, "upstream_unavailable"),
])
def test_error_map(context: ProviderContext, status: int, code: str, message: str, cls: type[Exception],
                   our_code: str | None) -> None:
    content = json.dumps({"code": code, "message": message, "request_id": "r-1"}).encode()
    error = error_from_dashscope(context, status, httpx.Headers({"retry-after": "2"}), content, str)
    assert type(error) is cls and error.code == our_code
    assert status == 401 or (error.retry_after == 2.0 and message in error.message)
