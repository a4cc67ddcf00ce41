"""Parameter rules end to end, with a plug-in whose model requires ``max_tokens`` (tests/plugins/providers).

Also proves the plug-in mechanism: a ``providers/`` folder on ``PYTHONPATH`` adds providers without packaging.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import ROOT, GatewayProcess

PROFILE = """
providers:
  - name: strict
    provider: strict_local
    credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}
"""
USER: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "rules"}]


@pytest.fixture(scope="module")
def client(upstream: FakeOpenAI) -> Iterator[openai.OpenAI]:
    env = {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY, "PYTHONPATH": str(ROOT / "tests" / "plugins")}
    with GatewayProcess(PROFILE, env) as gateway, openai.OpenAI(base_url=gateway.base_url, api_key="x",
                                                                max_retries=0) as sdk:
        yield sdk


def test_required_parameter_gets_its_default_upstream(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    client.chat.completions.create(model="strict/strict-chat", messages=USER)
    assert upstream.requests[-1].json()["max_tokens"] == 256
    client.chat.completions.create(model="strict/strict-chat", messages=USER, max_tokens=7, temperature=0.5)
    sent = upstream.requests[-1].json()
    assert (sent["max_tokens"], sent["temperature"]) == (7, 0.5)  # what the client sent wins


@pytest.mark.parametrize(("params", "param"), [({"max_tokens": 2048}, "max_tokens"), ({"temperature": 1.5},
                                                                                    "temperature")])
def test_out_of_range_is_400_and_never_reaches_the_upstream(client: openai.OpenAI, upstream: FakeOpenAI,
                                                            params: dict[str, float], param: str) -> None:
    upstream.clear()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="strict/strict-chat", messages=USER, **params)  # type: ignore[call-overload]
    assert caught.value.param == param and caught.value.code == "invalid_value"
    assert upstream.requests == []
