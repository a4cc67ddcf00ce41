"""``POST /v1/tokens/count`` through the gateway: names resolve like calls do, counts come from core.tokens."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from core.openai.chat import ChatMessage
from core.tokens import count_chat, count_text
from tests.conftest import GATEWAY_KEY
from tests.gateway import GatewayProcess

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Count me, please."}]


def count(gateway: GatewayProcess, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/tokens/count", json=body, timeout=10,
                      headers={"authorization": f"Bearer {GATEWAY_KEY}"})


def test_chat_messages_of_a_served_model(gateway: GatewayProcess) -> None:
    expected = count_chat("gpt-4o-mini", msgspec.convert(MESSAGES, list[ChatMessage]))
    for name in ["openai/gpt-4o-mini", "chat", "gpt-4o-mini"]:  # instance/model, route alias, bare name
        body = count(gateway, {"model": name, "messages": MESSAGES}).json()
        assert body["tokens"] == expected.tokens and body["encoding"] == "o200k_base", name
        assert body["estimated"] is False and body["model"] == name
    assert count(gateway, {"model": "openai/gpt-4o-mini", "messages": MESSAGES}).json()["context_size"] == 128000


def test_inputs_and_unknown_tokenizers(gateway: GatewayProcess) -> None:
    body = count(gateway, {"model": "embed", "input": ["one text", "and another"]}).json()
    assert body["encoding"] == "cl100k_base"  # the alias resolves to text-embedding-3-small
    assert body["tokens"] == count_text("text-embedding-3-small", ["one text", "and another"]).tokens
    local = count(gateway, {"model": "up/llama3.2:3b", "input": "hello"}).json()
    assert local["estimated"] is True and local["encoding"] is None and local["tokens"] > 0


def test_bad_requests(gateway: GatewayProcess) -> None:
    bodies: list[dict[str, Any]] = [{"model": "chat"}, {"model": "chat", "messages": MESSAGES, "input": "x"},
                                    {"model": "chat", "messages": [{"role": "user"}]}]
    for body in bodies:
        response = count(gateway, body)
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_odd_tool_schemas_are_counted_not_crashed_on(gateway: GatewayProcess) -> None:
    for parameters in [{"properties": [1, 2]}, {"properties": "abc"}, {"properties": {"x": {"enum": 5}}},
                       {"properties": {"x": "string"}}]:
        body = {"model": "chat", "messages": MESSAGES,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": parameters}}]}
        response = count(gateway, body)
        assert response.status_code == 200 and response.json()["estimated"] is True, parameters


def test_names_counted_here_do_not_become_metrics_labels(gateway: GatewayProcess) -> None:
    # any name is counted (estimated): made-up ones must not fill the metrics' model labels
    assert count(gateway, {"model": "made-up-model-5e1c", "input": "hello"}).status_code == 200
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    assert "made-up-model-5e1c" not in metrics
