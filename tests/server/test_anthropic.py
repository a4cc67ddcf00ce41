"""Anthropic end to end: the openai SDK through the gateway in front of the faithful Anthropic fake (tests/fakes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseFunctionToolCall,
    ResponseInputItemParam,
    ResponseReasoningItem,
)

from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY
from tests.fakes.anthropic_upstream import REDACTED_TRIGGER, FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess
from tests.server.chat_tools import CLOCK, WEATHER, ask

ANTHROPIC_KEY = "sk-ant-canary-key-5d2e"
MODEL = "anthropic/claude-haiku-4-5"
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - {name: anthropic, provider: anthropic, credentials: {api_key: "${ANTHROPIC_KEY}", base_url: "${ANTHROPIC_URL}"}}
  - {name: anthropic-badkey, provider: anthropic, credentials: {api_key: wrong, base_url: "${ANTHROPIC_URL}"},
     models: [claude-haiku-4-5]}
  - {name: openai, provider: openai, credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}}
routes:
  - model: mixed                   # Claude first, OpenAI for what Claude cannot do
    deployments: [{target: anthropic/claude-haiku-4-5}]
    fallbacks: [openai/gpt-4o-mini]
  - model: pinned                  # the operator sets the thinking for every call
    deployments: [{target: anthropic/claude-haiku-4-5, params: {reasoning_effort: low}}]
  - model: long-context
    deployments: [{target: anthropic/fault-context}]
    context_fallbacks: [anthropic/claude-haiku-4-5]
router: {retries: 0}
"""


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(ANTHROPIC_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(anthropic: FakeAnthropic, upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "ANTHROPIC_KEY": ANTHROPIC_KEY, "ANTHROPIC_URL": anthropic.base_url,
           "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw



def test_chat_usage_cost_and_what_was_sent(client: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    anthropic.clear()
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."}, *ask("Say hello")], stop=["never"])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Say hello" and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    expected = (Decimal(1) * reply.usage.prompt_tokens + Decimal(5) * reply.usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    sent = anthropic.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = sent.json()
    assert body["system"] == [{"type": "text", "text": "Be brief."}] and body["stop_sequences"] == ["never"]
    assert body["max_tokens"] == 8192  # required upstream: the model's default, the client sent none


def test_length_and_stream_equal_the_answer(client: openai.OpenAI) -> None:
    cut = client.chat.completions.create(model=MODEL, messages=ask("one two three four five"), max_tokens=2)
    assert cut.choices[0].finish_reason == "length"
    question = ask("Tell me a story about seven brave little tailors")
    whole = client.chat.completions.create(model=MODEL, messages=question)
    chunks = list(client.chat.completions.create(model=MODEL, messages=question, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def calls(message: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]


def test_parallel_tool_calls_streamed_equal_the_answer(client: openai.OpenAI) -> None:
    question = ask("What do weather and clock say? city=Paris")
    whole = client.chat.completions.create(model=MODEL, messages=question, tools=[WEATHER, CLOCK])
    assert whole.choices[0].finish_reason == "tool_calls"
    assert [(name, args) for _, name, args in calls(whole.choices[0].message)] == [
        ("weather", {"city": "Paris"}), ("clock", {})]
    with client.chat.completions.stream(model=MODEL, messages=question, tools=[WEATHER, CLOCK]) as stream:
        final = stream.get_final_completion()
    assert [c[1:] for c in calls(final.choices[0].message)] == [c[1:] for c in calls(whole.choices[0].message)]
    assert final.choices[0].finish_reason == "tool_calls"


def test_tool_results_round_trip(client: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    first = client.chat.completions.create(model=MODEL, messages=ask("Use weather. city=Rome"), tools=[WEATHER],
                                           tool_choice="required")
    [(call_id, name, args)] = calls(first.choices[0].message)
    anthropic.clear()
    second = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[
        *ask("Use weather. city=Rome"),
        {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
                                              "function": {"name": name, "arguments": json.dumps(args)}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "21C and sunny"}])
    assert "weather returned 21C and sunny" in (second.choices[0].message.content or "")
    turns = anthropic.requests[-1].json()["messages"]
    assert turns[1]["content"][0] == {"type": "tool_use", "id": call_id, "name": "weather", "input": args}
    assert turns[2]["content"][0]["type"] == "tool_result"


def test_thinking_reaches_the_client_and_goes_back_in_a_tool_loop(client: openai.OpenAI,
                                                                  anthropic: FakeAnthropic) -> None:
    question = ask("Use weather. city=Rome")
    first = client.chat.completions.create(model=MODEL, messages=question, tools=[WEATHER], reasoning_effort="low")
    assert anthropic.requests[-1].json()["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    message = first.choices[0].message
    extra = message.model_extra or {}
    assert extra["reasoning_content"] == "Let me think about Use weather. city=Rome."
    [block] = extra["thinking_blocks"]
    assert block["type"] == "thinking" and block["thinking"] == extra["reasoning_content"] and block["signature"]
    [(call_id, _, _)] = calls(message)
    result: dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "content": "21C"}
    # The SDK sends the answer's message back as it came, thinking_blocks included: Anthropic wants them.
    history: list[Any] = [*question, message, result]
    second = client.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER], reasoning_effort="low")
    assert second.choices[0].message.content == "results: weather returned 21C"
    assert anthropic.requests[-1].json()["messages"][1]["content"][0] == block
    dropped = {"role": "assistant", "tool_calls": [c.model_dump() for c in message.tool_calls or []]}
    bare: list[Any] = [*question, dropped, result]
    with pytest.raises(openai.BadRequestError, match="must start with a thinking block"):
        client.chat.completions.create(model=MODEL, messages=bare, tools=[WEATHER], reasoning_effort="low")
    plain = client.chat.completions.create(model=MODEL, messages=question)
    assert "thinking" not in anthropic.requests[-1].json() and plain.choices[0].message.model_extra == {}


def test_the_responses_api_carries_claudes_signed_thinking_through_a_tool_loop(client: openai.OpenAI,
                                                                              anthropic: FakeAnthropic) -> None:
    question = "Use weather. city=Rome"
    tools: list[FunctionToolParam] = [{"type": "function", "name": "weather", "strict": None,
                                       "parameters": WEATHER["function"].get("parameters")}]
    first = client.responses.create(model=MODEL, input=question, tools=tools, reasoning={"effort": "low"})
    reasoning, message, call = first.output  # Claude says what it will do, then calls
    assert isinstance(reasoning, ResponseReasoningItem) and isinstance(call, ResponseFunctionToolCall)
    assert message.type == "message" and first.output_text == "I'll use weather."
    assert [part.text for part in reasoning.content or ()] == ["Let me think about Use weather. city=Rome."]
    with client.responses.stream(model=MODEL, input=question, tools=tools, reasoning={"effort": "low"}) as stream:
        kinds = [event.type for event in stream]
        streamed = stream.get_final_response().output[0]
    assert kinds.index("response.reasoning_text.delta") < kinds.index("response.function_call_arguments.delta")
    assert isinstance(streamed, ResponseReasoningItem) and streamed.encrypted_content == reasoning.encrypted_content
    # The next turn, as an agent sends it: the output items back, the reasoning item with its encrypted_content.
    result: ResponseInputItemParam = {"type": "function_call_output", "call_id": call.call_id, "output": "21C"}
    asked: ResponseInputItemParam = {"role": "user", "content": question}
    items: list[Any] = [item.model_dump(exclude_none=True) for item in first.output]
    second = client.responses.create(model=MODEL, input=[asked, *items, result], tools=tools,
                                     reasoning={"effort": "low"})
    assert second.output_text == "results: weather returned 21C"
    block = anthropic.requests[-1].json()["messages"][1]["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == reasoning.content[0].text  # type: ignore[index]
    with pytest.raises(openai.BadRequestError, match="must start with a thinking block"):
        client.responses.create(model=MODEL, input=[asked, *items[1:], result], tools=tools,
                                reasoning={"effort": "low"})


def test_a_translators_400_on_the_responses_api_names_the_clients_input_item(client: openai.OpenAI) -> None:
    history: list[Any] = [{"role": "user", "content": "Use weather. city=Rome"},
                          {"type": "function_call", "call_id": "toolu_1", "name": "weather", "arguments": "{oops"},
                          {"type": "function_call_output", "call_id": "toolu_1", "output": "21C"}]
    with pytest.raises(openai.BadRequestError, match="arguments must be a JSON object") as caught:
        client.responses.create(model=MODEL, input=history, instructions="Be brief.")
    assert caught.value.param == "input[1].arguments"  # the chat request's messages[2].tool_calls[0].function...


def test_an_answer_with_thinking_goes_back_to_another_provider_without_what_it_refuses(
        client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    # One conversation, two providers (a route's fallback, or the client switching models): Claude's answer, sent
    # back as the SDK parsed it, carries reasoning_content and thinking_blocks. OpenAI's API refuses any message
    # field it does not know (its fake too). Other plug-ins: tests/providers/openai_compatible/test_history.py.
    question = ask("Use weather. city=Rome")
    first = client.chat.completions.create(model=MODEL, messages=question, tools=[WEATHER], reasoning_effort="low")
    message = first.choices[0].message
    assert {"reasoning_content", "thinking_blocks"} <= set(message.model_extra or {})
    [(call_id, _, _)] = calls(message)
    history: list[Any] = [*question, message, {"role": "tool", "tool_call_id": call_id, "content": "21C"}]
    answer = client.chat.completions.create(model="openai/gpt-4o-mini", messages=history)
    assert answer.choices[0].message.content == "echo: Use weather. city=Rome"
    sent = upstream.requests[-1].json()["messages"][1]
    assert sent["role"] == "assistant" and sent["tool_calls"][0]["id"] == call_id
    assert not {"reasoning_content", "thinking_blocks"} & set(sent)


def test_a_deployment_that_sets_the_thinking_replaces_the_clients_own(client: openai.OpenAI,
                                                                       anthropic: FakeAnthropic) -> None:
    # Not "send either reasoning_effort or thinking": the client sent only one, and the deployment's params
    # replace what the client sent.
    reply = client.chat.completions.create(model="pinned", messages=ask("Think it over"),
                                           extra_body={"thinking": {"type": "enabled", "budget_tokens": 5000}})
    assert anthropic.requests[-1].json()["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert (reply.choices[0].message.model_extra or {})["reasoning_content"]


def test_a_request_claude_cannot_serve_as_asked_goes_to_the_next_deployment(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="mixed", messages=ask("Say hi"), n=2)
    assert [c.message.content for c in raw.parse().choices] == ["echo: Say hi"] * 2
    assert raw.headers["x-model-runtime-deployment"] == "openai/gpt-4o-mini"
    plain = client.chat.completions.with_raw_response.create(model="mixed", messages=ask("Say hi"))
    assert plain.headers["x-model-runtime-deployment"] == "anthropic/claude-haiku-4-5"  # not cooled down
    with pytest.raises(openai.BadRequestError) as alone:  # nowhere else to go: Claude's own refusal
        client.chat.completions.create(model=MODEL, messages=ask("Say hi"), n=2)
    assert (alone.value.param, alone.value.code) == ("n", "unsupported_parameter")


def test_streamed_thinking_equals_the_answer(client: openai.OpenAI) -> None:
    question = ask(f"{REDACTED_TRIGGER} Think it over")  # Anthropic's test string: a redacted block comes first
    whole = client.chat.completions.create(model=MODEL, messages=question, reasoning_effort="minimal")
    blocks = (whole.choices[0].message.model_extra or {})["thinking_blocks"]
    assert [b["type"] for b in blocks] == ["redacted_thinking", "thinking"]
    chunks = list(client.chat.completions.create(model=MODEL, messages=question, reasoning_effort="minimal",
                                                 stream=True))
    extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    assert "".join(e.get("reasoning_content", "") for e in extras) == (whole.choices[0].message.model_extra or {})[
        "reasoning_content"]
    streamed = [b for e in extras for b in e.get("thinking_blocks", [])]
    assert [b.pop("index") for b in streamed] == [0, 1] and streamed == blocks
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    # The SDK's stream helper merges list entries by index: two blocks come out as two.
    with client.chat.completions.stream(model=MODEL, messages=question, reasoning_effort="minimal") as stream:
        final = stream.get_final_completion()
    assert [{k: v for k, v in b.items() if k != "index"} for b in
            (final.choices[0].message.model_extra or {})["thinking_blocks"]] == blocks


def test_redacted_thinking_goes_back_sealed_as_it_came(client: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    question = ask(f"{REDACTED_TRIGGER} hi")
    first = client.chat.completions.create(model=MODEL, messages=question, reasoning_effort="low")
    history: list[Any] = [*question, first.choices[0].message, *ask("and now?")]
    again = client.chat.completions.create(model=MODEL, messages=history, reasoning_effort="low")
    assert again.choices[0].message.content == "echo: and now?"
    sent = anthropic.requests[-1].json()["messages"][1]["content"]
    assert sent[:2] == (first.choices[0].message.model_extra or {})["thinking_blocks"]  # checked by the fake
    history[1] = {"role": "assistant", "content": first.choices[0].message.content,
                  "thinking_blocks": [{"type": "redacted_thinking", "data": "bm90IHNlYWxlZA=="}]}
    with pytest.raises(openai.BadRequestError, match="Invalid `data` in `redacted_thinking` block"):
        client.chat.completions.create(model=MODEL, messages=history, reasoning_effort="low")


def test_a_prompt_and_max_tokens_past_the_window_is_context_length_exceeded(client: openai.OpenAI,
                                                                           anthropic: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("word " * 136_001), max_tokens=64_000)
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"
    assert "exceed context limit" in caught.value.message and anthropic.requests[-1].json()["max_tokens"] == 64_000


def test_the_thinking_budget_fits_the_clients_cap_or_comes_on_top_of_the_default(
        client: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    client.chat.completions.create(model=MODEL, messages=ask("Hi"), reasoning_effort="high")
    sent = anthropic.requests[-1].json()
    assert (sent["max_tokens"], sent["thinking"]) == (8192 + 24576, {"type": "enabled", "budget_tokens": 24576})
    client.chat.completions.create(model=MODEL, messages=ask("Hi"), reasoning_effort="high", max_tokens=3000)
    sent = anthropic.requests[-1].json()
    assert (sent["max_tokens"], sent["thinking"]) == (3000, {"type": "enabled", "budget_tokens": 1500})
    with pytest.raises(openai.BadRequestError, match="`temperature` may only be set to 1 when thinking is enabled"):
        client.chat.completions.create(model=MODEL, messages=ask("Hi"), reasoning_effort="low", temperature=0.2)


def test_a_context_error_takes_the_context_fallback(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="long-context", messages=ask("Hi"))
    assert raw.parse().choices[0].message.content == "echo: Hi"
    assert raw.headers["x-model-runtime-deployment"] == "anthropic/claude-haiku-4-5"


@pytest.mark.parametrize(("model", "error", "status", "code"), [
    ("anthropic-badkey/claude-haiku-4-5", openai.AuthenticationError, 401, "provider_authentication_failed"),
    ("anthropic/fault-status-429", openai.RateLimitError, 429, None),
    ("anthropic/fault-status-529", openai.InternalServerError, 503, None),
    ("anthropic/fault-status-500", openai.InternalServerError, 502, None),
    ("anthropic/fault-context", openai.BadRequestError, 400, "context_length_exceeded"),
    ("anthropic/gpt-x", openai.NotFoundError, 404, "model_not_found"),
])
def test_errors_are_mapped(client: openai.OpenAI, gateway: GatewayProcess, model: str, error: type[openai.APIError],
                           status: int, code: str | None) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=model, messages=ask("Hi"))
    assert isinstance(caught.value, openai.APIStatusError) and caught.value.status_code == status
    if code is not None:
        assert caught.value.code == code
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "1"
    assert ANTHROPIC_KEY not in caught.value.message and "Traceback" not in gateway.log()


@pytest.mark.parametrize(("model", "words"), [("anthropic/fault-stream-error", "overloaded"),
                                              ("anthropic/fault-cut-3", "broke off the stream")])
def test_a_broken_stream_ends_with_an_error_event(client: openai.OpenAI, model: str, words: str) -> None:
    stream = client.chat.completions.create(model=model, messages=ask("A long story please"), stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert words in caught.value.message.lower()


def test_an_effort_for_a_model_that_does_not_think_is_a_400(client: openai.OpenAI, anthropic: FakeAnthropic) -> None:
    anthropic.clear()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="anthropic/claude-3-5-haiku-latest", messages=ask("Hi"),
                                       reasoning_effort="low")
    assert caught.value.param == "reasoning_effort" and "does not think" in caught.value.message
    assert not anthropic.requests  # refused before the upstream
