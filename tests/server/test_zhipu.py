"""Zhipu AI end to end: OpenAI's chat completions and embeddings through the gateway to a faithful fake of
open.bigmodel.cn's v4 API, with the openai SDK: answers, streams, tool calls, finish reasons, usage and price,
embeddings in batches, and every Zhipu business code as the gateway's error."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.conftest import GATEWAY_KEY
from tests.fakes.zhipu_upstream import NETWORK_ERROR, SENSITIVE_INPUT, SENSITIVE_OUTPUT, FakeZhipu
from tests.gateway import GatewayProcess

ZHIPU_KEY = "8c1f0e2d7b6a.ZhipuCanarySecret"
FAULTS = ["glm-9", NETWORK_ERROR, "fault-cut-3", "fault-status-500", "fault-code-1113", "fault-code-1302",
          "fault-code-1261", "fault-code-1214", "fault-code-1220"]
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: zhipu
    provider: zhipuai
    credentials: {api_key: "${ZHIPU_KEY}", base_url: "${ZHIPU_URL}"}
    models:
      - glm-4-flash
      - glm-4.5
      - embedding-3
""" + "".join(f"      - {{model: {name}, model_type: llm}}\n" for name in FAULTS) + """
  - name: zhipu-badkey
    provider: zhipuai
    credentials: {api_key: "0000.wrong", base_url: "${ZHIPU_URL}"}
    models: [glm-4-flash]
router: {retries: 0}
"""
MODEL = "zhipu/glm-4-flash"
WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}
CLOCK: Any = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def zhipu() -> Iterator[FakeZhipu]:
    with FakeZhipu(ZHIPU_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(zhipu: FakeZhipu) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "ZHIPU_KEY": ZHIPU_KEY, "ZHIPU_URL": zhipu.api_url}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def user(text: str) -> list[Any]:
    """One user message (this module's helpers serve tests/server/test_tongyi.py too)."""
    return [{"role": "user", "content": text}]


def test_chat_passes_through_and_is_priced(client: openai.OpenAI, zhipu: FakeZhipu) -> None:
    zhipu.clear()
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("Hi there"), temperature=0.5,
                                                           extra_body={"do_sample": True})
    reply = raw.parse()
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("echo: Hi there", "stop")
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)
    assert raw.headers["x-model-runtime-cost"] == "0"  # glm-4-flash is free
    sent = zhipu.requests[-1]
    assert (sent.path, sent.headers["authorization"]) == ("/api/paas/v4/chat/completions", f"Bearer {ZHIPU_KEY}")
    assert sent.json() == {"model": "glm-4-flash", "messages": user("Hi there"), "temperature": 0.5,
                           "do_sample": True}
    thinking = client.chat.completions.create(model="zhipu/glm-4.5", messages=user("Hi"))
    assert thinking.choices[0].message.model_extra == {"reasoning_content": "The user said: Hi"}


def test_a_stream_joins_to_the_same_answer_and_usage(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=MODEL, messages=user("Count the words in this"))
    chunks = list(client.chat.completions.create(model=MODEL, messages=user("Count the words in this"), stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage == whole.usage and len({c.id for c in chunks}) == 1


FINISH_CASES = [({"max_tokens": 2}, "echo: one", "length"), ({"stop": "two"}, "echo: one ", "stop")]
"""(request fields, answer, finish reason) for "one two three": shared with the other chat providers' tests."""


def check_finish_reason(client: openai.OpenAI, model: str, extra: dict[str, Any], content: str, finish: str) -> None:
    """The same content and finish reason whole and streamed."""
    whole = client.chat.completions.create(model=model, messages=user("one two three"), **extra)
    assert (whole.choices[0].message.content, whole.choices[0].finish_reason) == (content, finish)
    chunks = list(client.chat.completions.create(model=model, messages=user("one two three"), stream=True, **extra))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == [finish]


@pytest.mark.parametrize(("extra", "content", "finish"), FINISH_CASES)
def test_finish_reasons(client: openai.OpenAI, extra: dict[str, Any], content: str, finish: str) -> None:
    check_finish_reason(client, MODEL, extra, content, finish)


def calls_of(reply: ChatCompletion) -> list[tuple[str, str, str]]:
    return [(c.id, c.function.name, c.function.arguments) for c in reply.choices[0].message.tool_calls or []
            if c.type == "function"]


def tool_round_trip(client: openai.OpenAI, model: str) -> ChatCompletion:
    """Tool calls whole and streamed (reassembled by the SDK) are the same, and their results answer the next
    turn; the whole answer is returned."""
    asked = user("Use get_weather city=Paris days=3 and the clock")
    whole = client.chat.completions.create(model=model, messages=asked, tools=[WEATHER, CLOCK])
    with client.chat.completions.stream(model=model, messages=asked, tools=[WEATHER, CLOCK]) as stream:
        streamed = stream.get_final_completion()
    assert calls_of(streamed) == calls_of(whole)
    assert [(name, arguments) for _, name, arguments in calls_of(whole)] == [
        ("get_weather", '{"city": "Paris", "days": 3}'), ("clock", "{}")]
    assert whole.choices[0].finish_reason == streamed.choices[0].finish_reason == "tool_calls"
    results = [{"role": "tool", "tool_call_id": call[0], "content": said}
               for call, said in zip(calls_of(whole), ["18C", "noon"], strict=True)]
    history = [*asked, whole.choices[0].message.model_dump(exclude_none=True), *results]
    final = client.chat.completions.create(model=model, messages=history, tools=[WEATHER, CLOCK])
    assert final.choices[0].message.content == "results: 18C; noon"
    return whole


def test_streamed_tool_calls_reassemble_to_the_non_streamed_ones(client: openai.OpenAI) -> None:
    tool_round_trip(client, MODEL)


def test_embeddings_go_in_batches_of_64_and_keep_their_order(client: openai.OpenAI, zhipu: FakeZhipu) -> None:
    texts = [f"text number {i}" for i in range(130)]
    zhipu.clear()
    embedded = client.embeddings.create(model="zhipu/embedding-3", input=texts, dimensions=256)
    assert sorted(len(r.json()["input"]) for r in zhipu.requests) == [2, 64, 64]
    assert {r.json()["dimensions"] for r in zhipu.requests} == {256}
    assert [d.index for d in embedded.data] == list(range(130)) and embedded.usage.prompt_tokens == 390
    single = client.embeddings.create(model="zhipu/embedding-3", input=texts[100], dimensions=256)
    assert single.data[0].embedding == embedded.data[100].embedding
    encoded = client.embeddings.create(model="zhipu/embedding-3", input=texts[100], dimensions=256,
                                       encoding_format="base64")
    packed = base64.b64decode(str(encoded.data[0].embedding))
    assert list(struct.unpack("<256f", packed)) == single.data[0].embedding


def test_content_filter_on_the_prompt_and_on_the_answer(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=user(f"About {SENSITIVE_INPUT}"))
    assert refused.value.code == "content_filter" and "敏感内容" in refused.value.message
    cut = client.chat.completions.create(model=MODEL, messages=user(f"More on {SENSITIVE_OUTPUT} please"))
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("echo: More ", "content_filter")
    chunks = list(client.chat.completions.create(model=MODEL, messages=user(f"More on {SENSITIVE_OUTPUT} please"),
                                                 stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["content_filter"]


def test_a_failed_generation_and_a_cut_stream(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model=f"zhipu/{NETWORK_ERROR}", messages=user("a b c"))
    assert failed.value.status_code == 502 and "network_error" in failed.value.message
    received: list[str] = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in client.chat.completions.create(model=f"zhipu/{NETWORK_ERROR}", messages=user("a b c"),
                                                    stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "network_error" in broken.value.message and "".join(received) == "echo: a "
    received.clear()
    with pytest.raises(openai.APIError) as cut:
        for chunk in client.chat.completions.create(model="zhipu/fault-cut-3", messages=user("a b c"), stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert cut.value.code == "upstream_stream_interrupted" and "".join(received) == "echo: a b "


@pytest.mark.parametrize(("model", "error", "code"), [
    ("glm-9", openai.NotFoundError, "model_not_found"),
    ("fault-code-1261", openai.BadRequestError, "context_length_exceeded"),
    ("fault-code-1214", openai.BadRequestError, "invalid_value"),
    ("fault-code-1302", openai.RateLimitError, "rate_limit_exceeded"),
    ("fault-code-1113", openai.InternalServerError, "provider_account_blocked"),
    ("fault-code-1220", openai.InternalServerError, "provider_permission_denied"),  # the gateway's account
    ("fault-status-500", openai.InternalServerError, "upstream_error"),
])
def test_zhipu_errors(client: openai.OpenAI, model: str, error: type[openai.APIStatusError], code: str) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(model=f"zhipu/{model}", messages=user("Hi"))
    assert caught.value.code == code


def test_rejected_parameters_keys_and_routes(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.BadRequestError) as forced:
        client.chat.completions.create(model=MODEL, messages=user("get_weather"), tools=[WEATHER],
                                       tool_choice="required")
    assert forced.value.param == "tool_choice" and "参数非法" in forced.value.message
    with pytest.raises(openai.AuthenticationError) as denied:
        client.chat.completions.create(model="zhipu-badkey/glm-4-flash", messages=user("Hi"))
    assert denied.value.code == "provider_authentication_failed"
    with pytest.raises(openai.BadRequestError) as legacy:
        client.completions.create(model=MODEL, prompt="Hi")
    assert legacy.value.code == "unsupported_model_endpoint"
    assert ZHIPU_KEY not in gateway.log()
