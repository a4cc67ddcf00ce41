"""A provider context for unit tests of the OpenAI-wire building blocks."""

from __future__ import annotations

import pytest

from core.model_types import ProviderContext
from core.registry import Registry


@pytest.fixture(scope="session")
def context() -> ProviderContext:
    schema = Registry.discover()["openai_compatible"].schema
    return ProviderContext(name="local", schema=schema, credentials={"base_url": "http://127.0.0.1:1/v1"},
                           credential_hint="providers[1].credentials in the profile", timeout_s=5.0,
                           connect_timeout_s=1.0)
