"""A Chatchat model_providers.yaml served as is: /{provider}/v1/... and the /workspaces/current lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

CHATCHAT = """\
openai:
  provider_credential:
    openai_api_key: '${FAKE_KEY}'
    openai_organization: ''
    openai_api_base: '${FAKE_BASE}'
openai_api_compatible:
  model_credential:
    - model: 'llama-local'
      model_type: 'text-generation'
      model_credentials: {endpoint_url: '${FAKE_URL}', api_key: '${FAKE_KEY}', mode: chat}
    - model: 'bge-m3'
      model_type: 'embeddings'
      model_credentials: {endpoint_url: '${FAKE_URL}', api_key: '${FAKE_KEY}'}
"""


@pytest.fixture(scope="module")
def seed_gateway(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    env = {"FAKE_KEY": UPSTREAM_KEY, "FAKE_URL": upstream.base_url,
           "FAKE_BASE": upstream.base_url.removesuffix("/v1")}  # Dify spells the OpenAI base without /v1
    with GatewayProcess(CHATCHAT, env) as gw:
        yield gw


def sdk(gateway: GatewayProcess, provider: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/{provider}/v1", api_key="unused", max_retries=0)


def test_chat_through_the_provider_path(seed_gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with sdk(seed_gateway, "openai") as client:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "echo: hi"
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                     messages=[{"role": "user", "content": "hi"}]))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi"
        assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    assert upstream.requests[0].json()["model"] == "gpt-4o-mini"
    with sdk(seed_gateway, "openai_api_compatible") as client:
        assert client.chat.completions.create(model="llama-local", messages=[{"role": "user", "content": "yo"}]
                                              ).choices[0].message.content == "echo: yo"
        vectors = client.embeddings.create(model="bge-m3", input=["a", "b"])
        assert len(vectors.data) == 2
        assert sorted(m.id for m in client.models.list()) == ["bge-m3", "llama-local"]
        assert client.models.retrieve("bge-m3").owned_by == "openai_compatible"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-4o")  # an openai model, not one of this provider's
        completion = client.completions.create(model="llama-local", prompt="say")
        assert completion.choices[0].text


def test_errors_are_openai_errors(seed_gateway: GatewayProcess) -> None:
    with sdk(seed_gateway, "openai_api_compatible") as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="not-here", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"
    with sdk(seed_gateway, "zhipuai") as client, pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="glm-4", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "provider_not_found"
    with sdk(seed_gateway, "openai_api_compatible") as client, pytest.raises(openai.BadRequestError) as mismatch:
        client.embeddings.create(model="llama-local", input="x")
    assert mismatch.value.code == "model_type_mismatch"


def workspace(gateway: GatewayProcess, path: str) -> httpx.Response:
    response = httpx.get(f"{gateway.url}/workspaces/current/{path}", timeout=10)
    assert UPSTREAM_KEY not in response.text
    return response


def test_workspace_model_providers(seed_gateway: GatewayProcess) -> None:
    body = workspace(seed_gateway, "model-providers").json()
    assert body["object"] == "list"
    providers = {p["provider"]: p for p in body["data"]}
    assert list(providers) == ["openai", "openai_api_compatible"]
    entry: dict[str, Any] = providers["openai"]
    assert entry["custom_configuration"] == {"status": "active"} and entry["preferred_provider_type"] == "custom"
    assert entry["system_configuration"] == {"enabled": False, "current_quota_type": None, "quota_configurations": []}
    assert entry["icon_small"] == {"en_US": "icon_s_en.svg"} and entry["label"]["en_US"] == "OpenAI"
    assert entry["provider_credential_schema"]["credential_form_schemas"][0]["variable"] == "api_key"


def test_workspace_models_by_type(seed_gateway: GatewayProcess) -> None:
    body = workspace(seed_gateway, "models/model-types/text-generation").json()  # Chatchat's alias of llm
    providers = {p["provider"]: p for p in body["data"]}
    assert providers["openai"]["status"] == "active"
    gpt = next(m for m in providers["openai"]["models"] if m["model"] == "gpt-4o-mini")
    assert gpt["fetch_from"] == "predefined-model" and gpt["model_properties"]["context_size"] == 128000
    assert gpt["status"] == "active" and gpt["model_type"] == "llm" and gpt["deprecated"] is False
    local = providers["openai_api_compatible"]["models"]
    assert [m["model"] for m in local] == ["llama-local"] and local[0]["fetch_from"] == "customizable-model"
    embeddings = workspace(seed_gateway, "models/model-types/embeddings").json()["data"]
    assert {p["provider"] for p in embeddings} == {"openai", "openai_api_compatible"}
    bad = workspace(seed_gateway, "models/model-types/poems")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "model_type"
