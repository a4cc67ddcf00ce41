"""A hosted OpenAI-compatible service configured by YAML alone (DeepSeek here, its fake speaking DeepSeek's dialect)
answers through the gateway with its own catalogue: predefined models, pricing and default base URL; and its
thinking makes tool loops, through chat and through the Responses API."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - {name: deepseek, provider: deepseek, credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}}
  - {name: groq, provider: groq, credentials: {api_key: "${GROQ_KEY}"}}
"""


@pytest.fixture(scope="module")
def deepseek() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(UPSTREAM_KEY, dialect="deepseek") as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(deepseek: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": deepseek.base_url, "FAKE_KEY": UPSTREAM_KEY,
           "GROQ_KEY": "gsk_canary_groq_key_0042"}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def test_deepseek_chat_with_its_pricing(client: openai.OpenAI, deepseek: FakeOpenAI) -> None:
    deepseek.clear()
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-chat", messages=[{"role": "user", "content": "Say hello"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Say hello"
    assert reply.usage is not None
    expected = (Decimal("0.28") * reply.usage.prompt_tokens + Decimal("0.42") * reply.usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    sent = deepseek.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}" and sent.json()["model"] == "deepseek-chat"


def test_deepseeks_v4_models_price_their_peak_and_check_their_effort_levels(client: openai.OpenAI,
                                                                              deepseek: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-v4-pro", messages=[{"role": "user", "content": "Say hello"}], max_tokens=100)
    usage = raw.parse().usage
    assert usage is not None
    expected = (Decimal("1.32") * usage.prompt_tokens + Decimal("3.96") * usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="deepseek/deepseek-flash", messages=[{"role": "user", "content": "Hi"}],
                                       extra_body={"reasoning_effort": "extreme"})
    assert caught.value.param == "reasoning_effort"
    models = {m.id: m for m in client.models.list()}
    assert {"deepseek/deepseek-flash", "deepseek/deepseek-v4-pro", "deepseek/deepseek-chat"} <= set(models)


def test_the_default_base_url_comes_from_the_yaml_and_the_key_stays_masked(gateway: GatewayProcess) -> None:
    profile = httpx.get(gateway.base_url + "/profile", headers={"authorization": f"Bearer {GATEWAY_KEY}"}).json()
    groq = next(p for p in profile["providers"] if p["name"] == "groq")
    assert groq["credentials"]["base_url"] == "https://api.groq.com/openai/v1"
    assert "gsk_canary_groq_key_0042" not in str(profile)
    models = httpx.get(gateway.base_url + "/models", headers={"authorization": f"Bearer {GATEWAY_KEY}"}).json()
    assert {"deepseek/deepseek-reasoner", "groq/llama-3.3-70b-versatile"} <= {m["id"] for m in models["data"]}


WEATHER: Any = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}


def test_deepseeks_thinking_goes_back_in_a_chat_tool_loop_and_developer_is_system(client: openai.OpenAI,
                                                                                   deepseek: FakeOpenAI) -> None:
    question: list[Any] = [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Rome?"}]
    first = client.chat.completions.create(model="deepseek/deepseek-flash", messages=question, tools=[WEATHER])
    message = first.choices[0].message
    assert (message.model_extra or {})["reasoning_content"] == "Let me think about Rome?."
    assert deepseek.requests[-1].json()["messages"][0] == {"role": "system", "content": "Be brief."}
    assert message.tool_calls
    result: Any = {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny"}
    history: list[Any] = [*question, message, result]  # the answer sent back as the SDK parsed it
    second = client.chat.completions.create(model="deepseek/deepseek-flash", messages=history)
    assert second.choices[0].message.content == "echo: Rome?"


def test_deepseeks_thinking_goes_back_in_a_responses_tool_loop(client: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "name": "weather", "parameters": {"type": "object"}, "strict": None}]
    asked: Any = {"role": "user", "content": "Rome?"}
    first = client.responses.create(model="deepseek/deepseek-v4-pro", input=[asked], tools=tools,
                                    instructions="Be brief.")
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    items: list[Any] = [item.model_dump(exclude_none=True) for item in first.output]
    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    second = client.responses.create(model="deepseek/deepseek-v4-pro", input=[asked, *items, result], tools=tools,
                                     tool_choice="none")
    assert second.output_text == "echo: Rome?"
    with pytest.raises(openai.BadRequestError, match="must be passed back"):  # without the reasoning item
        client.responses.create(model="deepseek/deepseek-v4-pro", input=[asked, items[1], result], tools=tools)
