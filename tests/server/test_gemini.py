"""Gemini end to end: the openai SDK through the gateway in front of the faithful Gemini fake (tests/fakes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from tests.conftest import GATEWAY_KEY
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway import GatewayProcess
from tests.server.chat_tools import CLOCK, WEATHER, ask

GEMINI_KEY = "gemini-canary-key-3c9b"
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - {name: gemini, provider: gemini, credentials: {api_key: "${GEMINI_KEY}", base_url: "${GEMINI_URL}"}}
  - {name: gemini-badkey, provider: gemini, credentials: {api_key: wrong-key, base_url: "${GEMINI_URL}"},
     models: [gemini-2.5-flash]}
router: {retries: 0}
"""


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini(GEMINI_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(gemini: FakeGemini) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "GEMINI_KEY": GEMINI_KEY, "GEMINI_URL": gemini.base_url}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw



def test_chat_with_usage_and_cost(client: openai.OpenAI, gemini: FakeGemini) -> None:
    gemini.clear()
    raw = client.chat.completions.with_raw_response.create(
        model="gemini/gemini-2.5-flash", messages=[{"role": "system", "content": "Be brief."}, *ask("Say hello")])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Say hello" and reply.choices[0].finish_reason == "stop"
    usage = reply.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens and usage.completion_tokens > 3
    expected = (Decimal("0.30") * usage.prompt_tokens + Decimal("2.50") * usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    sent = gemini.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.json()["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_stream_equals_the_answer(client: openai.OpenAI) -> None:
    question = ask("Tell me a story about seven brave little tailors")
    whole = client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=question)
    chunks = list(client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=question, stream=True,
                                                 stream_options={"include_usage": True}))
    assert len(chunks) > 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0


def test_reasoning_effort_thinks_and_its_summaries_come_back_as_reasoning_content(client: openai.OpenAI,
                                                                                  gemini: FakeGemini) -> None:
    question = ask("Why is the sky blue")
    model = "gemini/gemini-2.5-flash"
    whole = client.chat.completions.create(model=model, messages=question, reasoning_effort="low")
    assert gemini.requests[-1].json()["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024,
                                                                                "includeThoughts": True}
    chunks = list(client.chat.completions.create(model=model, messages=question, reasoning_effort="low", stream=True))
    summary = "**Answering the user**\n\nThe user wrote: Why is the sky blue"
    assert whole.choices[0].message.content == "echo: Why is the sky blue"
    assert whole.choices[0].message.model_extra == {"reasoning_content": summary}
    assert "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks) == summary
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content
    native = client.chat.completions.create(model=model, messages=question, extra_body={
        "google": {"thinking_config": {"thinking_budget": 2048, "include_thoughts": True}}})  # Google's own form
    assert gemini.requests[-1].json()["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048,
                                                                                "includeThoughts": True}
    assert native.choices[0].message.model_extra == {"reasoning_content": summary}
    quiet = client.chat.completions.create(model=model, messages=question)
    assert quiet.choices[0].message.model_extra == {}  # it thought, but no summary was asked for
    off = client.chat.completions.create(model=model, messages=question, reasoning_effort="none")
    assert off.usage is not None and off.usage.completion_tokens_details is None  # no thinking tokens at all
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini/gemini-2.5-pro", messages=question, reasoning_effort="none")
    assert caught.value.param == "reasoning_effort"  # 2.5 Pro always thinks: its parameter rule has no "none"


def calls(message: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]


def test_parallel_tool_calls_streamed_equal_the_answer(client: openai.OpenAI) -> None:
    question = ask("What do weather and clock say?")
    whole = client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=question, tools=[WEATHER, CLOCK])
    assert whole.choices[0].finish_reason == "tool_calls"
    assert [name for name, _ in calls(whole.choices[0].message)] == ["weather", "clock"]
    with client.chat.completions.stream(model="gemini/gemini-2.5-flash", messages=question,
                                        tools=[WEATHER, CLOCK]) as stream:
        final = stream.get_final_completion()
    assert calls(final.choices[0].message) == calls(whole.choices[0].message)
    assert final.choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_false_keeps_the_first_call_whole_and_streamed(client: openai.OpenAI) -> None:
    # Gemini's API has no such switch: the gateway keeps the first call of the turn
    question = ask("What do weather and clock say?")
    whole = client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=question, tools=[WEATHER, CLOCK],
                                           parallel_tool_calls=False)
    assert [name for name, _ in calls(whole.choices[0].message)] == ["weather"]
    with client.chat.completions.stream(model="gemini/gemini-2.5-flash", messages=question, tools=[WEATHER, CLOCK],
                                        parallel_tool_calls=False) as stream:
        final = stream.get_final_completion()
    assert calls(final.choices[0].message) == calls(whole.choices[0].message)
    assert whole.choices[0].finish_reason == final.choices[0].finish_reason == "tool_calls"


def test_tool_results_go_back_with_the_thought_signature(client: openai.OpenAI, gemini: FakeGemini) -> None:
    first = client.chat.completions.create(model="gemini/gemini-2.5-pro", messages=ask("Check the weather"),
                                           tools=[WEATHER], tool_choice="required")
    [call] = first.choices[0].message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    gemini.clear()
    second = client.chat.completions.create(model="gemini/gemini-2.5-pro", tools=[WEATHER], messages=[
        *ask("Check the weather"),
        {"role": "assistant", "tool_calls": [{"id": call.id, "type": "function", "function": {
            "name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 18}'}])
    assert second.choices[0].message.content and "weather" in second.choices[0].message.content
    model_turn = gemini.requests[-1].json()["contents"][1]
    assert model_turn["role"] == "model" and model_turn["parts"][0]["thoughtSignature"]
    assert gemini.requests[-1].json()["contents"][2]["parts"][0]["functionResponse"] == {
        "name": "weather", "response": {"temperature": 18}}


def test_json_schema_output(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gemini/gemini-2.5-flash", messages=ask("city=Paris"),
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
    assert json.loads(reply.choices[0].message.content or "") == {"city": "Paris"}


def test_safety_blocks(client: openai.OpenAI) -> None:
    blocked = client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=ask("something unsafe"))
    assert blocked.choices[0].finish_reason == "content_filter"
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=ask("a jailbreak attempt"))
    assert refused.value.code == "content_filter"


def test_embeddings_keep_one_vector_per_input(client: openai.OpenAI) -> None:
    full = client.embeddings.create(model="gemini/gemini-embedding-001", input=["one", "two", "three"])
    assert [d.index for d in full.data] == [0, 1, 2] and len(full.data[0].embedding) == 3072
    assert full.data[0].embedding != full.data[1].embedding and full.usage.prompt_tokens > 0
    short = client.embeddings.create(model="gemini/gemini-embedding-001", input="one", dimensions=768)
    assert short.data[0].embedding == full.data[0].embedding[:768]


@pytest.mark.parametrize(("extra", "param", "code"), [
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "invalid_value"),  # without stream
    ({"tool_choice": "required"}, "tool_choice", "invalid_value"),  # without tools: Gemini would just answer
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice",
     "invalid_value"),
])
def test_what_openai_refuses_for_every_model_is_refused_for_gemini_too(client: openai.OpenAI, extra: dict[str, Any],
                                                                        param: str, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini/gemini-2.5-flash", messages=ask("Hi"), extra_body=extra)
    assert (caught.value.param, caught.value.code) == (param, code)


@pytest.mark.parametrize(("model", "extra", "error", "status"), [
    ("gemini/fault-status-429", {}, openai.RateLimitError, 429),
    ("gemini/fault-status-503", {}, openai.InternalServerError, 503),
    ("gemini/gemini-embedding-001", {"dimensions": -1}, openai.BadRequestError, 400),
])
def test_embedding_errors_are_mapped(client: openai.OpenAI, model: str, extra: dict[str, Any],
                                     error: type[openai.APIStatusError], status: int) -> None:
    # not a 500: the upstream's error, as for chat (so that the router retries and falls back on it too)
    with pytest.raises(error) as caught:
        client.embeddings.create(model=model, input=["one", "two"], **extra)
    assert caught.value.status_code == status and caught.value.type != "server_error"


@pytest.mark.parametrize(("model", "error", "status", "code"), [
    ("gemini-badkey/gemini-2.5-flash", openai.AuthenticationError, 401, "provider_authentication_failed"),
    ("gemini/fault-status-429", openai.RateLimitError, 429, None),
    ("gemini/fault-status-503", openai.InternalServerError, 503, None),
    ("gemini/fault-status-500", openai.InternalServerError, 502, None),
    ("gemini/fault-context", openai.BadRequestError, 400, "context_length_exceeded"),
    ("gemini/claude-x", openai.NotFoundError, 404, "model_not_found"),
])
def test_errors_are_mapped(client: openai.OpenAI, gateway: GatewayProcess, model: str, error: type[openai.APIError],
                           status: int, code: str | None) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=model, messages=ask("Hi"))
    assert isinstance(caught.value, openai.APIStatusError) and caught.value.status_code == status
    if code is not None:
        assert caught.value.code == code
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "26"
    assert GEMINI_KEY not in caught.value.message and "wrong-key" not in caught.value.message
    assert "Traceback" not in gateway.log()


def test_a_cut_stream_ends_with_an_error(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="gemini/fault-cut-1", messages=ask("A long story please"),
                                            stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert "broke off the stream" in caught.value.message


def test_an_effort_for_a_model_that_does_not_think_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gemini/gemini-2.0-flash", messages=ask("Hi"), reasoning_effort="low")
    assert caught.value.param == "reasoning_effort" and "does not think" in caught.value.message
