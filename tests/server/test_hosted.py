"""A hosted OpenAI-compatible service configured by YAML alone (DeepSeek here) answers through the gateway with
its own catalogue: predefined models, pricing and default base URL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

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
def gateway(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY,
           "GROQ_KEY": "gsk_canary_groq_key_0042"}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def test_deepseek_chat_with_its_pricing(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    raw = client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-chat", messages=[{"role": "user", "content": "Say hello"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Say hello"
    assert reply.usage is not None
    expected = (Decimal("0.28") * reply.usage.prompt_tokens + Decimal("0.42") * reply.usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}" and sent.json()["model"] == "deepseek-chat"


def test_deepseeks_v4_models_price_their_peak_and_check_their_effort_levels(client: openai.OpenAI,
                                                                              upstream: FakeOpenAI) -> None:
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
