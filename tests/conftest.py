"""Shared fixtures: one fake OpenAI upstream and one gateway in front of it for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, free_port

GATEWAY_KEY = "mr-test-gateway-key-0123456789"
UPSTREAM_KEY = "sk-fake-upstream-key-canary-7f3a9c"
WRONG_UPSTREAM_KEY = "sk-wrong-upstream-key-canary-d41c8e"
URL_PASSWORD = "url-password-canary-5be0"

PROFILE = """
server:
  api_keys: ["${GATEWAY_KEY}"]
  max_body_bytes: 200000
providers:
  - name: up                       # any model name passes through to the fake
    provider: openai_compatible
    credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}
  - name: openai                   # predefined models, served by the fake
    provider: openai
    credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}
    models: [gpt-4o-mini, o3, text-embedding-3-small]
  - name: custom                   # customizable models: their schema comes from their credentials
    provider: openai_compatible
    credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}
    models:
      - {model: gpt-4o-mini, model_type: llm,
         credentials: {context_size: "64000", max_tokens_to_sample: "100", vision_support: support}}
      - {model: text-embedding-3-small, model_type: embeddings, credentials: {context_size: "8191"}}
  - name: badkey
    provider: openai_compatible
    credentials: {base_url: "${FAKE_URL}", api_key: "${WRONG_KEY}"}
  - name: unconfigured
    provider: openai
    credentials: {api_key: "${UNSET_TEST_OPENAI_KEY:-}"}
  - name: down
    provider: openai_compatible
    credentials: {base_url: "http://probe:${URL_PASSWORD}@127.0.0.1:${DOWN_PORT}/v1"}
routes:
  - model: chat
    model_type: llm                # `up` passes any name through, so the type is declared
    deployments: [{target: up/gpt-4o-mini}]
  - model: embed
    deployments: [{target: openai/text-embedding-3-small}]
router: {timeout_s: 1.5, connect_timeout_s: 1, retries: 0}   # retries: tests/server/test_reliability.py
"""


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server, shared by every test."""
    with FakeOpenAI(api_key=UPSTREAM_KEY) as fake:
        yield fake


def profile_env(upstream: FakeOpenAI) -> dict[str, str]:
    """What ``PROFILE`` reads from the environment, for a gateway in front of ``upstream``."""
    return {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY,
            "WRONG_KEY": WRONG_UPSTREAM_KEY, "DOWN_PORT": str(free_port()), "URL_PASSWORD": URL_PASSWORD}


@pytest.fixture(scope="session")
def gateway(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    """The real gateway process serving ``PROFILE`` in front of the fake."""
    with GatewayProcess(PROFILE, profile_env(upstream)) as gw:
        yield gw


@pytest.fixture(scope="session")
def plain(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    """The same gateway under uvicorn's own command and protocol: the model calls arrive through ASGI."""
    with GatewayProcess(PROFILE, profile_env(upstream), plain_uvicorn=True) as gw:
        yield gw


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    """The official SDK pointed at the gateway; no retries so each test sees one attempt."""
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def aclient(gateway: GatewayProcess) -> openai.AsyncOpenAI:
    """The async SDK pointed at the gateway."""
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0)
