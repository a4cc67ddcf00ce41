"""The openai plug-in: its default base URL, its organization header, its credentials kept off the wire."""

from __future__ import annotations

from typing import Any

import pytest

from core.model_types import ProviderContext
from core.registry import Registry
from providers.openai import OpenAIProvider


def build(credentials: dict[str, Any]) -> OpenAIProvider:
    schema = Registry.discover()["openai"].schema
    return OpenAIProvider(ProviderContext(name="openai", schema=schema, credentials=credentials,
                                          credential_hint="OPENAI_API_KEY", timeout_s=5, connect_timeout_s=1))


@pytest.mark.parametrize(("credentials", "base_url"), [
    ({"api_key": "sk-1"}, "https://api.openai.com/v1/"),
    ({"api_key": "sk-1", "base_url": "http://127.0.0.1:9/v1/"}, "http://127.0.0.1:9/v1/"),
])
async def test_base_url(credentials: dict[str, Any], base_url: str) -> None:
    provider = build(credentials)
    assert str(provider.client.base_url) == base_url
    await provider.aclose()


async def test_headers() -> None:
    provider = build({"api_key": "sk-1", "organization": "org-42"})
    assert provider.client.headers["authorization"] == "Bearer sk-1"
    assert provider.client.headers["openai-organization"] == "org-42"
    assert "openai-organization" not in build({"api_key": "sk-1"}).client.headers
    await provider.aclose()


def test_redactor_knows_the_key() -> None:
    assert "sk-secret-value" not in build({"api_key": "sk-secret-value"}).redact("bad key sk-secret-value")
