"""The OpenAI <-> Gemini generateContent translation, table-driven both ways (no network: wire objects only)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from providers.gemini.contents import GenerateContentResponse, build_request, chat_completion

IMAGE = "data:image/png;base64,iVBORw0KGgo="


def gemini_body(**openai: Any) -> dict[str, Any]:
    raw = {"model": "gemini", **openai}
    return build_request(msgspec.convert(raw, ChatCompletionRequest), raw)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


HI = {"role": "user", "parts": [{"text": "Hi"}]}


@pytest.mark.parametrize(("openai", "thinking"), [
    pytest.param({"reasoning_effort": "medium"}, {"thinkingBudget": 8192, "includeThoughts": True},
                 id="effort as a budget, asking for the summaries"),
    pytest.param({"reasoning_effort": "none"}, {"thinkingBudget": 0}, id="none turns thinking off"),
    pytest.param({"google": {"thinking_config": {"thinking_level": "low", "include_thoughts": False}}},
                 {"thinkingLevel": "low", "includeThoughts": False}, id="Google's own thinking_config"),
    pytest.param({"extra_body": {"google": {"thinking_config": {"thinking_budget": -1}}}}, {"thinkingBudget": -1},
                 id="... nested in extra_body, as Google's examples send it"),
])
def test_thinking_config(openai: dict[str, Any], thinking: dict[str, Any]) -> None:
    assert gemini_body(messages=[user("Hi")], **openai) == {"contents": [HI],
                                                           "generationConfig": {"thinkingConfig": thinking}}


@pytest.mark.parametrize(("openai", "expected"), [
    pytest.param({"messages": [user("Hi")]}, {"contents": [HI]}, id="plain"),
    pytest.param({"messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "No."},
                               user("Hi"), user("there"), {"role": "assistant", "content": "Hello"}]},
                 {"systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "No."}]},
                  "contents": [{"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
                               {"role": "model", "parts": [{"text": "Hello"}]}]},
                 id="system instruction, merged turns, model role"),
    pytest.param({"messages": [user("Hi")], "temperature": 0.3, "top_p": 0.8, "top_k": 20, "max_tokens": 64,
                  "stop": ["END"], "n": 2, "presence_penalty": 0.1, "frequency_penalty": 0.2, "seed": 7},
                 {"contents": [HI], "generationConfig": {
                     "temperature": 0.3, "topP": 0.8, "topK": 20, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                     "seed": 7, "maxOutputTokens": 64, "stopSequences": ["END"], "candidateCount": 2}},
                 id="generation config"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_object"}},
                 {"contents": [HI], "generationConfig": {"responseMimeType": "application/json"}}, id="JSON mode"),
    pytest.param({"messages": [user("Hi")], "response_format": {"type": "json_schema", "json_schema": {
                     "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}},
                 {"contents": [HI], "generationConfig": {
                     "responseMimeType": "application/json",
                     "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                 id="structured output"),
    pytest.param({"messages": [{"role": "user", "content": [
                     {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": IMAGE}},
                     {"type": "image_url", "image_url": {"url": "https://example.com/a.webp?x=1"}}]}]},
                 {"contents": [{"role": "user", "parts": [
                     {"text": "What?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                     {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a.webp?x=1"}}]}]},
                 id="images inline and by URI"),
    pytest.param({"messages": [
                     user("Weather?"),
                     {"role": "assistant", "tool_calls": [
                         {"id": "call_1~c2ln", "type": "function",
                          "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                         {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": "call_1~c2ln", "content": "{\"temp\": 18}"},
                     {"role": "tool", "tool_call_id": "call_2", "content": "noon"}],
                  "tools": [{"type": "function", "function": {"name": "weather", "description": "Now",
                                                              "parameters": {"type": "object"}}},
                            {"type": "function", "function": {"name": "clock"}}],
                  "tool_choice": {"type": "function", "function": {"name": "weather"}}},
                 {"contents": [
                     {"role": "user", "parts": [{"text": "Weather?"}]},
                     {"role": "model", "parts": [
                         {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                         {"functionCall": {"name": "clock", "args": {}}}]},
                     {"role": "user", "parts": [
                         {"functionResponse": {"name": "weather", "response": {"temp": 18}}},
                         {"functionResponse": {"name": "clock", "response": {"result": "noon"}}}]}],
                  "tools": [{"functionDeclarations": [
                      {"name": "weather", "description": "Now", "parametersJsonSchema": {"type": "object"}},
                      {"name": "clock"}]}],
                  "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}}},
                 id="function calls with signatures, responses named by call id"),
    pytest.param({"messages": [user("Hi")], "tools": [{"type": "function", "function": {"name": "f"}}],
                  "tool_choice": "required"},
                 {"contents": [HI], "tools": [{"functionDeclarations": [{"name": "f"}]}],
                  "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}, id="tool choice required"),
])
def test_requests_translate(openai: dict[str, Any], expected: dict[str, Any]) -> None:
    assert gemini_body(**openai) == expected


@pytest.mark.parametrize(("openai", "param"), [
    ({"messages": [user("Hi")], "logprobs": True}, "logprobs"),
    ({"messages": [{"role": "system", "content": "alone"}]}, "messages"),
    ({"messages": [user("Hi"), {"role": "tool", "tool_call_id": "nobody", "content": "x"}]},
     "messages[1].tool_call_id"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"messages": [user("Hi")], "tool_choice": "sometimes"}, "tool_choice"),
    ({"messages": [user("Hi")], "reasoning_effort": "xhigh"}, "reasoning_effort"),
    ({"messages": [user("Hi")], "reasoning_effort": "low", "google": {"thinking_config": {"thinking_budget": 1}}},
     "reasoning_effort"),
    ({"messages": [user("Hi")], "google": {"thinking_config": {"budget": 1}}}, "google.thinking_config"),
])
def test_what_gemini_cannot_do_is_a_400_naming_the_parameter(openai: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        gemini_body(**openai)
    assert caught.value.param == param


def response(candidates: list[dict[str, Any]], **usage: int) -> GenerateContentResponse:
    body = {"candidates": candidates, "modelVersion": "gemini-2.5-flash", "responseId": "r1",
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15, **usage}}
    return msgspec.json.decode(msgspec.json.encode(body), type=GenerateContentResponse)


@pytest.mark.parametrize(("reason", "parts", "finish"), [
    ("STOP", [{"text": "Hi"}], "stop"),
    ("MAX_TOKENS", [{"text": "Hi"}], "length"),
    ("SAFETY", [], "content_filter"),
    ("RECITATION", [{"text": "Hi"}], "content_filter"),
    ("PROHIBITED_CONTENT", [], "content_filter"),
    ("STOP", [{"functionCall": {"name": "f", "args": {}}}], "tool_calls"),
    ("SOMETHING_NEW", [{"text": "Hi"}], "stop"),
])
def test_finish_reasons(reason: str, parts: list[dict[str, Any]], finish: str) -> None:
    completion = chat_completion(response([{"content": {"role": "model", "parts": parts}, "finishReason": reason}]),
                                 "gemini")
    assert completion.choices[0].finish_reason == finish


def test_responses_translate_text_calls_thoughts_and_usage() -> None:
    answer = response([{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
        {"text": "thinking...", "thought": True}, {"text": "Checking "}, {"text": " and more", "thought": True},
        {"text": "now."},
        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}]}}],
        thoughtsTokenCount=7, cachedContentTokenCount=4)
    completion = msgspec.to_builtins(chat_completion(answer, "gemini"))
    message = completion["choices"][0]["message"]
    assert message["content"] == "Checking now." and message["reasoning_content"] == "thinking... and more"
    [call] = message["tool_calls"]
    assert call["id"].endswith("~c2ln") and call["type"] == "function"
    assert call["function"] == {"name": "weather", "arguments": '{"city":"Paris"}'}
    assert completion["usage"] == {"prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22,
                                   "prompt_tokens_details": {"cached_tokens": 4},
                                   "completion_tokens_details": {"reasoning_tokens": 7}}
    assert completion["model"] == "gemini-2.5-flash" and completion["id"] == "r1"


def test_several_candidates_are_several_choices_each_with_its_own_thoughts() -> None:
    answer = response([{"index": 1, "finishReason": "STOP", "content": {"parts": [{"text": "B"}]}},
                       {"index": 0, "finishReason": "STOP", "content": {"parts": [{"text": "a?", "thought": True},
                                                                                  {"text": "A"}]}}])
    completion = msgspec.to_builtins(chat_completion(answer, "gemini"))
    assert [(c["index"], c["message"]) for c in completion["choices"]] == [
        (0, {"role": "assistant", "content": "A", "reasoning_content": "a?", "refusal": None, "tool_calls": None}),
        (1, {"role": "assistant", "content": "B", "refusal": None, "tool_calls": None})]
