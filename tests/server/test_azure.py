"""Azure OpenAI end to end: deployments, api-version, the api-key header, the OpenAI catalogue entry of the base
model (pricing, rules), content filtering and Azure's errors, through the gateway with the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from providers.azure_openai import AzureOpenAIProvider
from tests.conftest import GATEWAY_KEY
from tests.fakes.azure_upstream import FILTER_TRIGGER, FakeAzureOpenAI
from tests.gateway import GatewayProcess
from tests.providers.streams import provider_context

AZURE_KEY = "azure-canary-key-91fe"
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: azure
    provider: azure_openai
    credentials: {endpoint: "${AZURE_URL}", api_key: "${AZURE_KEY}"}
    models:
      - {model: gpt-4o-mini, model_type: llm, credentials: {deployment_name: chat4o, base_model_name: gpt-4o-mini}}
      - {model: small-embed, model_type: embeddings,
         credentials: {deployment_name: embed, base_model_name: text-embedding-3-small}}
      - {model: voice, model_type: tts, credentials: {deployment_name: talk, base_model_name: tts-1}}
      - {model: gone, model_type: llm, credentials: {deployment_name: deleted-deployment}}
      - {model: busy, model_type: llm, credentials: {deployment_name: fault-status-429}}
  - name: azure-quiet
    provider: azure_openai
    credentials: {endpoint: "${AZURE_URL}", api_key: "${AZURE_KEY}", stream_usage: no_support}
    models: [{model: chat4o, model_type: llm}]
  - name: azure-2024-06
    provider: azure_openai
    credentials: {endpoint: "${AZURE_URL}", api_key: "${AZURE_KEY}", api_version: "2024-06-01"}
    models: [{model: chat4o, model_type: llm}]
  - name: azure-v1
    provider: azure_openai
    credentials: {endpoint: "${AZURE_URL}", api_key: "${AZURE_KEY}", api_version: v1}
    models: [{model: chat4o, model_type: llm}]
router: {retries: 0}
"""


@pytest.fixture(scope="module")
def azure() -> Iterator[FakeAzureOpenAI]:
    with FakeAzureOpenAI(AZURE_KEY, {"chat4o": "gpt-4o-mini", "embed": "text-embedding-3-small",
                                     "talk": "tts-1"}) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(azure: FakeAzureOpenAI) -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, {"GATEWAY_KEY": GATEWAY_KEY, "AZURE_URL": azure.base_url,
                                  "AZURE_KEY": AZURE_KEY}) as gw:
        yield gw


def test_chat_goes_to_the_deployment_and_is_priced_as_its_base_model(client: openai.OpenAI,
                                                                     azure: FakeAzureOpenAI) -> None:
    azure.clear()
    raw = client.chat.completions.with_raw_response.create(
        model="azure/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "echo: Hi" and reply.usage is not None
    expected = (Decimal("0.15") * reply.usage.prompt_tokens + Decimal("0.60") * reply.usage.completion_tokens) / 10**6
    assert Decimal(raw.headers["x-model-runtime-cost"]) == expected
    sent = azure.requests[-1]
    assert (sent.path, sent.query) == ("/openai/deployments/chat4o/chat/completions", "api-version=2024-10-21")
    assert sent.headers["api-key"] == AZURE_KEY and "authorization" not in sent.headers


def test_the_base_model_rules_apply(gateway: GatewayProcess) -> None:
    too_many = httpx.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                          json={"model": "azure/gpt-4o-mini", "max_tokens": 10**6,
                                "messages": [{"role": "user", "content": "Hi"}]})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "max_tokens"


def test_stream_embeddings_speech_and_the_v1_api(client: openai.OpenAI, azure: FakeAzureOpenAI) -> None:
    chunks = client.chat.completions.create(model="azure/gpt-4o-mini", stream=True,
                                            messages=[{"role": "user", "content": "Count"}])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: Count"
    assert len(client.embeddings.create(model="azure/small-embed", input=["a", "b", "c"]).data) == 3
    assert client.audio.speech.create(model="azure/voice", voice="alloy", input="Hi",
                                      response_format="wav").content[:4] == b"RIFF"
    azure.clear()
    reply = client.chat.completions.create(model="azure-v1/chat4o", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "echo: Hi"
    sent = azure.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and sent.json()["model"] == "chat4o"


@pytest.mark.parametrize(("model", "asked"), [("azure/gpt-4o-mini", True), ("azure-v1/chat4o", True),
                                              ("azure-2024-06/chat4o", False), ("azure-quiet/chat4o", False)])
def test_a_stream_is_asked_for_its_usage_where_the_api_version_takes_it(
        client: openai.OpenAI, azure: FakeAzureOpenAI, gateway: GatewayProcess, model: str, asked: bool) -> None:
    azure.clear()
    before = tokens(gateway, model)
    chunks = list(client.chat.completions.create(model=model, stream=True,
                                                 messages=[{"role": "user", "content": "Hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: Hi"
    assert all(c.usage is None and c.choices for c in chunks)  # the client did not ask: no usage chunk reaches it
    sent = azure.requests[-1].json()
    assert sent.get("stream_options") == ({"include_usage": True} if asked else None)
    assert tokens(gateway, model) - before == (2 if asked else 0)  # "echo: Hi" counted only when asked for


async def test_on_your_data_streams_are_not_asked_for_their_usage() -> None:
    context = provider_context("azure_openai", "azure", {"endpoint": "https://r.test", "api_key": "k"})
    provider = AzureOpenAIProvider(context)
    assert provider.asks_stream_usage("chat/completions", {"messages": []})
    assert not provider.asks_stream_usage("chat/completions", {"messages": [], "data_sources": [{"type": "x"}]})
    assert not provider.asks_stream_usage("completions", {"prompt": "Hi"})  # chat streams only
    await provider.aclose()


def tokens(gateway: GatewayProcess, model: str) -> float:
    """The completion tokens the gateway has recorded for ``model``."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "model_runtime_tokens_total" and sample.labels.get("model") == model
               and sample.labels.get("kind") == "completion")


def test_content_filter_is_a_400_with_its_code_and_verdict(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as filtered:
        client.chat.completions.create(model="azure/gpt-4o-mini",
                                       messages=[{"role": "user", "content": f"About {FILTER_TRIGGER}"}])
    assert filtered.value.code == "content_filter"
    assert "content management policy" in filtered.value.message and "filtered: violence" in filtered.value.message


def test_azure_errors(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="azure/gone", messages=[{"role": "user", "content": "Hi"}])
    assert "deployment" in missing.value.message.lower()
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="azure/busy", messages=[{"role": "user", "content": "Hi"}])
    assert limited.value.response.headers["retry-after"] == "1"
    assert AZURE_KEY not in gateway.log()
