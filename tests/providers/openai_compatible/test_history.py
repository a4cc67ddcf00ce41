"""What each OpenAI-wire plug-in leaves out of the history it sends: the fields its upstream refuses."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from core.model_types import JSONReply, ModelTarget
from core.openai.chat import ChatCompletionRequest
from core.registry import Registry
from core.schema import ModelType
from providers.openai_compatible import OpenAICompatibleProvider
from tests.providers.streams import provider_context

ANSWER = {"role": "assistant", "content": "4", "refusal": None, "reasoning_content": "2 and 2", "reasoning": "2+2",
          "thinking_blocks": [{"type": "thinking", "thinking": "2 and 2", "signature": "c2ln"}],
          "context": {"intent": "[\"2+2\"]"}}
"""An answer as the openai SDK sends it back: the gateway's own (refusal, thinking_blocks), Claude's thinking
(reasoning_content), OpenRouter's or Groq's (reasoning), and Azure "On Your Data"'s citations (context)."""
CREDENTIALS = {"api_key": "k", "base_url": "http://127.0.0.1:1/v1", "endpoint": "https://r.test"}


async def sent_by(provider: str, raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                  credentials: dict[str, str] | None = None) -> dict[str, Any]:
    """The body the ``provider`` plug-in posts upstream for the chat request ``raw``."""
    context = provider_context(provider, provider, {**CREDENTIALS, **(credentials or {})})
    plugin = Registry.discover()[provider].provider_class()(context)
    assert isinstance(plugin, OpenAICompatibleProvider)
    sent: list[dict[str, Any]] = []

    async def post(path: str, body: dict[str, Any], stream: bool, timeout_s: float | None = None,
                   hide_usage: bool = False) -> JSONReply:
        sent.append(body)
        return JSONReply(b"{}", None)

    monkeypatch.setattr(plugin, "post", post)
    try:
        await plugin.chat(ModelTarget(name="m", model_type=ModelType.LLM),
                          msgspec.convert(raw, ChatCompletionRequest), raw)
    finally:
        await plugin.aclose()
    [body] = sent
    return body


EVERYTHING = set(ANSWER) - {"thinking_blocks"}  # the gateway's own field goes to none of them


@pytest.mark.parametrize(("provider", "kept"), [
    ("openai", {"role", "content", "refusal"}),  # OpenAI's API: a field it does not know is a 400
    ("azure_openai", {"role", "content", "refusal", "context"}),
    ("mistral", {"role", "content"}),  # 422 extra_forbidden for any other
    ("groq", {"role", "content", "reasoning"}),  # "property 'reasoning_content' is unsupported"
    ("deepseek", EVERYTHING), ("moonshot", EVERYTHING),  # take reasoning_content back, in tool loops
    ("openai_compatible", EVERYTHING),
    ("openai_compatible history_fields=openai", {"role", "content", "refusal"})])  # a strict server behind it
async def test_the_history_keeps_only_what_the_upstream_takes(provider: str, kept: set[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    raw: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "2+2?"}, ANSWER,
                                                      {"role": "user", "content": "and 3+3?"}]}
    provider, _, setting = provider.partition(" ")
    body = await sent_by(provider, raw, monkeypatch, dict([setting.split("=")]) if setting else None)
    assert set(body["messages"][1]) == kept
    assert body["messages"][0] is raw["messages"][0] and raw["messages"][1] is ANSWER  # the client's left as is
    assert set(ANSWER) == EVERYTHING | {"thinking_blocks"}


async def test_a_history_without_those_fields_is_sent_as_it_came(monkeypatch: pytest.MonkeyPatch) -> None:
    raw: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"},
                                                      {"role": "assistant", "content": "hello"}]}
    assert (await sent_by("openai", raw, monkeypatch))["messages"] is raw["messages"]
