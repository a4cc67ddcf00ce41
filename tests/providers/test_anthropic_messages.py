"""The OpenAI <-> Anthropic Messages translation, table-driven both ways (no network: the wire objects only)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from providers.anthropic.messages import Message, build_request, chat_completion

IMAGE = "data:image/png;base64,iVBORw0KGgo="


def anthropic_body(ceiling: int | None = None, **openai: Any) -> dict[str, Any]:
    raw = {"model": "claude", **openai}
    return build_request(msgspec.convert(raw, ChatCompletionRequest), raw, "claude-sonnet-4-5", 1000, ceiling)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@pytest.mark.parametrize(("openai", "expected"), [
    pytest.param({"messages": [user("Hi")]},
                 {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 1000},
                 id="max_tokens from the model when the client sends none"),
    pytest.param({"messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "No."},
                               user("Hi")], "max_completion_tokens": 50},
                 {"system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "No."}],
                  "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 50},
                 id="system and developer messages become the system prompt"),
    pytest.param({"messages": [user("a"), user("b"), {"role": "assistant", "content": "c"}], "max_tokens": 5,
                  "stop": "END", "temperature": 0.5, "top_p": 0.9, "top_k": 40, "user": "u-1", "stream": True},
                 {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                            {"type": "text", "text": "b"}]},
                               {"role": "assistant", "content": [{"type": "text", "text": "c"}]}],
                  "max_tokens": 5, "stop_sequences": ["END"], "temperature": 0.5, "top_p": 0.9, "top_k": 40,
                  "stream": True, "metadata": {"user_id": "u-1"}},
                 id="turns of one role merge; sampling, stop, user and stream map"),
    pytest.param({"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What is this?"},
                     {"type": "image_url", "image_url": {"url": IMAGE}},
                     {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}}]}]},
                 {"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What is this?"},
                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                     {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}],
                  "max_tokens": 1000},
                 id="images as base64 and URL sources"),
    pytest.param({"messages": [
                     user("Weather in Paris and Rome?"),
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "toolu_1", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                         {"id": "toolu_2", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Rome\"}"}}]},
                     {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                     {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "21C"}]},
                     user("Thanks")],
                  "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                                                              "parameters": {"type": "object"}}},
                            {"type": "function", "function": {"name": "clock"}}],
                  "tool_choice": "required", "parallel_tool_calls": False},
                 {"messages": [
                     {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                     {"role": "assistant", "content": [
                         {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                         {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}}]},
                     {"role": "user", "content": [
                         {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                         {"type": "tool_result", "tool_use_id": "toolu_2", "content": "21C"},
                         {"type": "text", "text": "Thanks"}]}],
                  "max_tokens": 1000,
                  "tools": [{"name": "weather", "input_schema": {"type": "object"}, "description": "Weather now"},
                            {"name": "clock", "input_schema": {"type": "object", "properties": {}}}],
                  "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
                 id="parallel tool calls and their results in one user turn"),
    pytest.param({"messages": [user("Hi")], "tools": [{"type": "function", "function": {"name": "f"}}],
                  "tool_choice": {"type": "function", "function": {"name": "f"}}},
                 {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 1000,
                  "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
                  "tool_choice": {"type": "tool", "name": "f"}},
                 id="a named tool choice"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_schema", "json_schema": {
                     "name": "a", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}}},
                 {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 1000,
                  "output_config": {"format": {"type": "json_schema", "schema": {
                      "type": "object", "properties": {"x": {"type": "integer"}}}}}},
                 id="structured output"),
    pytest.param({"messages": [user("Hi")], "n": 1, "presence_penalty": 0, "logprobs": False},
                 {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 1000},
                 id="unsupported parameters at their neutral values are accepted"),
])
def test_requests_translate(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert anthropic_body(**openai) == {"model": "claude-sonnet-4-5", **expected}


HI = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
SIGNED = {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"}
REDACTED = {"type": "redacted_thinking", "data": "ZW5j"}
CALL = {"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
TOOL_TURN = [user("Weather?"), {"role": "assistant", "content": "Checking.", "reasoning_content": "Hmm.",
                                "thinking_blocks": [SIGNED, REDACTED | {"extra": 1}], "tool_calls": [CALL]},
             {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}]
SENT_BACK = {"role": "assistant", "content": [SIGNED, REDACTED, {"type": "text", "text": "Checking."},
                                              {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]}


@pytest.mark.parametrize(("openai", "ceiling", "thinking", "max_tokens"), [
    pytest.param({"reasoning_effort": "low"}, None, {"type": "enabled", "budget_tokens": 2048}, 3048,
                 id="effort without a cap: the budget on top of the default"),
    pytest.param({"reasoning_effort": "high"}, 16000, {"type": "enabled", "budget_tokens": 15000}, 16000,
                 id="... up to the model's ceiling, where the budget gives way to the default's room"),
    pytest.param({"reasoning_effort": "max"}, 3000, {"type": "enabled", "budget_tokens": 2000}, 3000,
                 id="... whatever the effort"),
    pytest.param({"reasoning_effort": "medium", "max_tokens": 3000}, None,
                 {"type": "enabled", "budget_tokens": 1500}, 3000,
                 id="the client's cap covers thinking and answer: thinking takes at most half"),
    pytest.param({"reasoning_effort": "high", "max_tokens": 1500}, None,
                 {"type": "enabled", "budget_tokens": 1024}, 1500, id="... and at least Anthropic's minimum"),
    pytest.param({"reasoning_effort": "high", "max_tokens": 1025}, None,
                 {"type": "enabled", "budget_tokens": 1024}, 1025, id="... under the cap"),
    pytest.param({"reasoning_effort": "high", "max_tokens": 2049}, None,
                 {"type": "enabled", "budget_tokens": 1024}, 2049, id="... half, rounded down"),
    pytest.param({"reasoning_effort": "minimal", "max_completion_tokens": 5000}, None,
                 {"type": "enabled", "budget_tokens": 1024}, 5000, id="a budget under the cap is kept"),
    pytest.param({"reasoning_effort": "none"}, None, {"type": "disabled"}, 1000, id="none turns thinking off"),
    pytest.param({"thinking": {"type": "adaptive", "display": "omitted"}}, None,
                 {"type": "adaptive", "display": "omitted"}, 1000, id="Anthropic's own thinking passes through"),
    pytest.param({"thinking": {"type": "enabled", "budget_tokens": 10000}}, None,
                 {"type": "enabled", "budget_tokens": 10000}, 11000, id="... its budget on top of the default"),
    pytest.param({"thinking": {"type": "enabled", "budget_tokens": 10000}, "max_tokens": 12000}, None,
                 {"type": "enabled", "budget_tokens": 10000}, 12000, id="... or under the client's cap"),
])
def test_thinking_from_reasoning_effort_or_as_sent(openai: dict[str, Any], ceiling: int | None,
                                                   thinking: dict[str, Any], max_tokens: int) -> None:
    assert anthropic_body(ceiling, messages=[user("Hi")], **openai) == {
        "model": "claude-sonnet-4-5", "messages": HI, "max_tokens": max_tokens, "thinking": thinking}


def test_thinking_blocks_go_back_first_when_the_request_thinks() -> None:
    thinking = anthropic_body(messages=TOOL_TURN, reasoning_effort="low")
    assert thinking["messages"][1] == SENT_BACK
    plain = anthropic_body(messages=TOOL_TURN)
    assert plain["messages"][1]["content"][0] == {"type": "text", "text": "Checking."}  # not asked to think: left out
    off = anthropic_body(messages=TOOL_TURN, thinking={"type": "disabled"})
    assert off["messages"][1] == plain["messages"][1]


@pytest.mark.parametrize(("openai", "param"), [
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"reasoning_effort": "low", "thinking": {"type": "enabled", "budget_tokens": 2048}}, "reasoning_effort"),
    ({"thinking": "on"}, "thinking"),
    ({"reasoning_effort": "low", "max_tokens": 1024}, "max_tokens"),
    ({"reasoning_effort": "low", "messages": [user("Hi"), {"role": "assistant", "content": "x", "thinking_blocks": [
        {"type": "thinking", "thinking": "no signature"}]}, user("Go on")]}, "messages[1].thinking_blocks[0]"),
])
def test_bad_thinking_is_a_400_naming_the_parameter(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        anthropic_body(**({"messages": [user("Hi")]} | openai))
    assert caught.value.param == param and caught.value.message


@pytest.mark.parametrize(("openai", "param"), [
    ({"messages": [user("Hi")], "n": 2}, "n"),
    ({"messages": [user("Hi")], "logprobs": True}, "logprobs"),
    ({"messages": [user("Hi")], "frequency_penalty": 0.5}, "frequency_penalty"),
    ({"messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio",
                                                  "input_audio": {"data": "AA==", "format": "wav"}}]}]},
     "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [user("Hi"), {"role": "assistant", "tool_calls": [
        {"id": "t", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
    ({"messages": [user("Hi")], "tools": [{"type": "custom", "custom": {"name": "c"}}]}, "tools[0]"),
])
def test_what_anthropic_cannot_do_is_a_400_naming_the_parameter(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        anthropic_body(**openai)
    assert caught.value.param == param and caught.value.message


def message(content: list[dict[str, Any]], stop_reason: str, **usage: int) -> Message:
    body = {"id": "msg_1", "model": "claude-sonnet-4-5", "content": content, "stop_reason": stop_reason,
            "usage": {"input_tokens": 10, "output_tokens": 4, **usage}}
    return msgspec.json.decode(msgspec.json.encode(body), type=Message)


@pytest.mark.parametrize(("stop_reason", "finish_reason"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("model_context_window_exceeded", "length"), ("pause_turn", "stop"),
    ("something_new", "stop"),
])
def test_stop_reasons(stop_reason: str, finish_reason: str) -> None:
    completion = chat_completion(message([{"type": "text", "text": "Hi"}], stop_reason))
    assert completion.choices[0].finish_reason == finish_reason


def test_responses_translate_text_tools_and_usage() -> None:
    raw = msgspec.json.decode(
        b'{"id": "msg_1", "model": "claude-sonnet-4-5", "stop_reason": "tool_use", "content": ['
        b'{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Let me check."},'
        b'{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],'
        b'"usage": {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 3,'
        b' "cache_read_input_tokens": 100}}', type=Message)
    completion = msgspec.to_builtins(chat_completion(raw))
    assert completion["choices"] == [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
        "role": "assistant", "content": "Let me check.", "reasoning_content": "hmm",
        "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "s"}], "refusal": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]}}]
    assert completion["usage"] == {"prompt_tokens": 113, "completion_tokens": 4, "total_tokens": 117,
                                   "prompt_tokens_details": {"cached_tokens": 100}}
    assert completion["id"] == "msg_1" and completion["model"] == "claude-sonnet-4-5"


def test_redacted_thinking_is_kept_for_the_way_back_and_no_thinking_writes_no_fields() -> None:
    thought = chat_completion(message([REDACTED, SIGNED, {"type": "text", "text": "Hi"}], "end_turn")).choices[0]
    assert (thought.message.reasoning_content, thought.message.thinking_blocks) == ("Hmm.", [REDACTED, SIGNED])
    plain = msgspec.to_builtins(chat_completion(message([{"type": "text", "text": "Hi"}], "end_turn")))
    assert set(plain["choices"][0]["message"]) == {"role", "content", "refusal", "tool_calls"}


def test_a_reply_of_only_tool_calls_has_null_content() -> None:
    completion = chat_completion(message([{"type": "tool_use", "id": "t", "name": "f", "input": {}}], "tool_use"))
    assert completion.choices[0].message.content is None
    assert completion.choices[0].message.tool_calls is not None
