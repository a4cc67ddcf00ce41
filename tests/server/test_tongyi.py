"""Tongyi (DashScope's native API) end to end: OpenAI's chat completions, embeddings and rerank through the
gateway to a faithful fake of DashScope, with the openai SDK (rerank with httpx): translation both ways, streams,
tool calls, finish reasons, usage and price, embeddings in batches of ten, and DashScope's errors as OpenAI's."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY
from tests.fakes.dashscope_upstream import SENSITIVE_INPUT, SENSITIVE_OUTPUT, FakeDashScope
from tests.gateway import GatewayProcess
from tests.server.test_zhipu import CLOCK, FINISH_CASES, WEATHER, calls_of, check_finish_reason, tool_round_trip, user

DASHSCOPE_KEY = "sk-dashscope-canary-3e9a"
FAULTS = ["qwen-nope", "fault-cut-3", "fault-status-500", "fault-status-503", "fault-code-Arrearage",
          "fault-code-Throttling.RateQuota", "fault-code-AccessDenied"]
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: qwen
    provider: tongyi
    credentials: {api_key: "${DASHSCOPE_KEY}", base_url: "${DASHSCOPE_URL}"}
    models:
      - qwen-plus
      - qwen-max
      - qwen3-max-2026-01-23
      - text-embedding-v4
      - gte-rerank-v2
""" + "".join(f"      - {{model: {name}, model_type: llm}}\n" for name in FAULTS) + """
  - name: qwen-badkey
    provider: tongyi
    credentials: {api_key: "sk-wrong", base_url: "${DASHSCOPE_URL}"}
    models: [qwen-plus]
router: {retries: 0}
"""
MODEL = "qwen/qwen-plus"


@pytest.fixture(scope="module")
def dashscope() -> Iterator[FakeDashScope]:
    with FakeDashScope(DASHSCOPE_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(dashscope: FakeDashScope) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "DASHSCOPE_KEY": DASHSCOPE_KEY, "DASHSCOPE_URL": dashscope.base_url}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def test_chat_is_translated_and_priced(client: openai.OpenAI, dashscope: FakeDashScope) -> None:
    dashscope.clear()
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "developer", "content": "Be brief."}, *user("Hi there")], top_p=0.5,
        stop="never", max_tokens=50, seed=7, extra_body={"top_k": 40, "enable_thinking": False})
    reply = raw.parse()
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("echo: Hi there", "stop")
    assert reply.model == "qwen-plus" and reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 3)
    assert Decimal(raw.headers["x-model-runtime-cost"]) == (Decimal("0.8") * 4 + Decimal("2") * 3) / 10**6
    sent = dashscope.requests[-1]
    assert sent.path == "/api/v1/services/aigc/text-generation/generation"
    assert sent.headers["authorization"] == f"Bearer {DASHSCOPE_KEY}" and "x-dashscope-sse" not in sent.headers
    assert sent.json() == {"model": "qwen-plus", "input": {"messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]},
        "parameters": {"result_format": "message", "top_p": 0.5, "top_k": 40, "seed": 7, "enable_thinking": False,
                       "max_tokens": 50, "stop": ["never"]}}


def test_a_stream_joins_to_the_same_answer_with_usage(client: openai.OpenAI, dashscope: FakeDashScope) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=user("Count the words in this"))
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("Count the words in this"), stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage and len({c.id for c in chunks}) == 1
    sent = dashscope.requests[-1]
    assert sent.headers["x-dashscope-sse"] == "enable" and sent.json()["parameters"]["incremental_output"] is True


def test_thinking_comes_back_as_reasoning_content_streamed_or_not(client: openai.OpenAI) -> None:
    question, thinking = user("Why is the sky blue"), {"enable_thinking": True}
    whole = client.chat.completions.create(model=MODEL, messages=question, extra_body=thinking)
    assert whole.choices[0].message.content == "echo: Why is the sky blue"
    assert whole.choices[0].message.model_extra == {"reasoning_content": "The user said: Why is the sky blue"}
    usage = whole.usage
    assert usage is not None and usage.completion_tokens_details is not None
    thought_words, answer_words = 8, 6  # "The user said: Why is the sky blue", "echo: Why is the sky blue"
    assert usage.completion_tokens_details.reasoning_tokens == thought_words
    assert usage.completion_tokens == thought_words + answer_words  # thinking is part of the output
    chunks = list(client.chat.completions.create(model=MODEL, messages=question, extra_body=thinking, stream=True,
                                                 stream_options={"include_usage": True}))
    thought = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks if c.choices)
    assert thought == "The user said: Why is the sky blue"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert chunks[-1].usage == usage
    quiet = client.chat.completions.create(model=MODEL, messages=question)
    assert quiet.choices[0].message.model_extra == {}
    assert quiet.usage is not None and quiet.usage.completion_tokens_details is None


@pytest.mark.parametrize("model", [MODEL, "qwen/qwen3-max-2026-01-23"])
def test_reasoning_effort_thinks_with_a_budget(client: openai.OpenAI, dashscope: FakeDashScope, model: str) -> None:
    question = user("Why is the sky blue")
    whole = client.chat.completions.create(model=model, messages=question, reasoning_effort="low")
    sent = dashscope.requests[-1].json()["parameters"]
    assert (sent["enable_thinking"], sent["thinking_budget"]) == (True, 1024)
    assert whole.choices[0].message.model_extra == {"reasoning_content": "The user said: Why is the sky blue"}
    short = client.chat.completions.create(model=model, messages=question, extra_body={"enable_thinking": True,
                                                                                       "thinking_budget": 3})
    assert short.choices[0].message.model_extra == {"reasoning_content": "The user said:"}  # cut to the budget
    off = client.chat.completions.create(model=model, messages=question, reasoning_effort="none")
    assert dashscope.requests[-1].json()["parameters"]["enable_thinking"] is False
    assert off.choices[0].message.model_extra == {}


@pytest.mark.parametrize(("extra", "content", "finish"), FINISH_CASES)
def test_finish_reasons(client: openai.OpenAI, extra: dict[str, Any], content: str, finish: str) -> None:
    check_finish_reason(client, MODEL, extra, content, finish)


def test_streamed_tool_calls_reassemble_to_the_non_streamed_ones(client: openai.OpenAI,
                                                                 dashscope: FakeDashScope) -> None:
    whole = tool_round_trip(client, MODEL)
    assert dashscope.requests[-1].json()["parameters"]["tools"] == [WEATHER, CLOCK]
    turns = dashscope.requests[-1].json()["input"]["messages"]
    assert turns[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris","days":3}'}
    assert turns[2] == {"role": "tool", "content": "18C", "tool_call_id": calls_of(whole)[0][0],
                        "name": "get_weather"}
    named = client.chat.completions.create(model=MODEL, messages=user("weather"), tools=[WEATHER, CLOCK],
                                           tool_choice={"type": "function", "function": {"name": "clock"}})
    assert [name for _, name, _ in calls_of(named)] == ["clock"]
    assert dashscope.requests[-1].json()["parameters"]["parallel_tool_calls"] is True  # OpenAI's default


def test_parallel_tool_calls_false_calls_one(client: openai.OpenAI, dashscope: FakeDashScope) -> None:
    one = client.chat.completions.create(model=MODEL, messages=user("Use get_weather and the clock"),
                                         tools=[WEATHER, CLOCK], parallel_tool_calls=False)
    assert [name for _, name, _ in calls_of(one)] == ["get_weather"]
    assert dashscope.requests[-1].json()["parameters"]["parallel_tool_calls"] is False


def test_embeddings_go_in_batches_of_ten_and_keep_their_order(client: openai.OpenAI,
                                                              dashscope: FakeDashScope) -> None:
    texts = [f"text number {i}" for i in range(23)]
    dashscope.clear()
    embedded = client.embeddings.create(model="qwen/text-embedding-v4", input=texts, dimensions=64)
    assert sorted(len(r.json()["input"]["texts"]) for r in dashscope.requests) == [3, 10, 10]
    assert {r.json()["parameters"]["dimension"] for r in dashscope.requests} == {64}
    assert [d.index for d in embedded.data] == list(range(23)) and embedded.usage.prompt_tokens == 69
    single = client.embeddings.create(model="qwen/text-embedding-v4", input=texts[17], dimensions=64)
    assert single.data[0].embedding == embedded.data[17].embedding and len(single.data[0].embedding) == 64


@pytest.mark.parametrize("count", [2, 23])  # one call, and three in parallel
def test_an_embedding_the_upstream_refuses_is_its_400_in_one_call_or_in_batches(client: openai.OpenAI,
                                                                               count: int) -> None:
    texts = [f"text number {i}" for i in range(count - 1)] + [""]
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="qwen/text-embedding-v4", input=texts)
    assert caught.value.status_code == 400 and caught.value.type == "invalid_request_error"


def test_rerank(gateway: GatewayProcess, dashscope: FakeDashScope) -> None:
    documents = ["the cat sat", "dogs bark loudly", "a cat and a dog"]
    ranked = httpx.post(gateway.base_url + "/rerank", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                        json={"model": "qwen/gte-rerank-v2", "query": "cat dog", "documents": documents, "top_n": 2})
    assert ranked.status_code == 200, ranked.text
    body = ranked.json()
    assert [r["index"] for r in body["results"]] == [2, 0]
    assert body["results"][0]["document"] == {"text": documents[2]} and body["usage"]["total_tokens"] > 0
    sent = dashscope.requests[-1]
    assert sent.path == "/api/v1/services/rerank/text-rerank/text-rerank"
    assert sent.json() == {"model": "gte-rerank-v2", "input": {"query": "cat dog", "documents": documents},
                           "parameters": {"return_documents": False, "top_n": 2}}


def test_content_filter_on_the_prompt_and_on_the_answer(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=user(f"About {SENSITIVE_INPUT}"))
    assert refused.value.code == "content_filter" and "Input data" in refused.value.message
    with pytest.raises(openai.BadRequestError) as stopped:
        client.chat.completions.create(model=MODEL, messages=user(f"More on {SENSITIVE_OUTPUT} please"))
    assert stopped.value.code == "content_filter" and "Output data" in stopped.value.message
    chunks = list(client.chat.completions.create(model=MODEL, messages=user(f"More on {SENSITIVE_OUTPUT} please"),
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: More "
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["content_filter"]


def test_a_cut_stream_ends_with_an_error_event(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as cut:
        for chunk in client.chat.completions.create(model="qwen/fault-cut-3", messages=user("a b c"), stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert cut.value.code == "upstream_stream_interrupted" and "".join(received) == "echo: a b "


@pytest.mark.parametrize(("model", "error", "code"), [
    ("qwen-nope", openai.NotFoundError, "model_not_found"),
    ("fault-code-Throttling.RateQuota", openai.RateLimitError, "rate_limit_exceeded"),
    ("fault-code-Arrearage", openai.InternalServerError, "provider_account_blocked"),
    ("fault-code-AccessDenied", openai.InternalServerError, "provider_permission_denied"),
    ("fault-status-500", openai.InternalServerError, "upstream_error"),
    ("fault-status-503", openai.InternalServerError, "upstream_unavailable"),
])
def test_dashscope_errors(client: openai.OpenAI, model: str, error: type[openai.APIStatusError],
                          code: str | None) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=f"qwen/{model}", messages=user("Hi"))
    assert caught.value.code == code


def test_context_keys_parameters_and_routes(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.BadRequestError) as long:
        client.chat.completions.create(model="qwen/qwen-max", messages=user("word " * 33_000))
    assert long.value.code == "context_length_exceeded" and "Range of input length" in long.value.message
    with pytest.raises(openai.BadRequestError) as forced:
        client.chat.completions.create(model=MODEL, messages=user("x"), tools=[WEATHER], tool_choice="required")
    assert forced.value.param == "tool_choice"
    with pytest.raises(openai.AuthenticationError) as denied:
        client.chat.completions.create(model="qwen-badkey/qwen-plus", messages=user("Hi"))
    assert denied.value.code == "provider_authentication_failed"
    with pytest.raises(openai.BadRequestError) as legacy:
        client.completions.create(model=MODEL, prompt="Hi")
    assert legacy.value.code == "unsupported_model_endpoint"
    assert DASHSCOPE_KEY not in gateway.log()


def test_an_effort_for_a_model_that_does_not_think_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="qwen/qwen-max", messages=user("Hi"), reasoning_effort="low")
    assert caught.value.param == "reasoning_effort" and "does not think" in caught.value.message
