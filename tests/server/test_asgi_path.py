"""The model calls answer the same whichever way they arrive: through :class:`server.protocol.HttpProtocol`, which
hands them to the app without ASGI (``python -m server serve``, the ``gateway`` fixture), or through ASGI under
any server (here uvicorn's own command and protocol)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY
from tests.gateway import GatewayProcess

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
MESSAGES = [{"role": "user", "content": "Say hello"}]
VARYING = {"date", "x-request-id"}


def both(gateway: GatewayProcess, plain: GatewayProcess) -> list[GatewayProcess]:
    return [gateway, plain]


def test_answers_and_their_headers_are_the_same(gateway: GatewayProcess, plain: GatewayProcess) -> None:
    seen = []
    for gw in both(gateway, plain):
        with openai.OpenAI(base_url=gw.base_url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
            raw = sdk.chat.completions.with_raw_response.create(model="chat", messages=[
                {"role": "user", "content": "Say hello"}])
            answer = raw.parse()
            headers = {name: value for name, value in raw.headers.items() if name not in VARYING}
            assert raw.headers["x-request-id"]
            chunks = list(sdk.chat.completions.create(model="up/gpt-4o-mini", stream=True, messages=[
                {"role": "user", "content": "Say hello"}]))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        seen.append((answer.choices[0].message.content, answer.usage, headers, text, finish))
    assert seen[0] == seen[1]
    assert seen[0][2]["x-model-runtime-deployment"] == "up/gpt-4o-mini" and seen[0][3] and seen[0][4] == ["stop"]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), [
    ("POST", "/v1/chat/completions", {"model": "chat", "messages": MESSAGES}, {"authorization": "Bearer wrong"}, 401),
    ("POST", "/v1/chat/completions", {"model": "no-such-model", "messages": MESSAGES}, AUTH, 404),
    ("POST", "/v1/chat/completions", {"model": "chat", "messages": "not a list"}, AUTH, 400),
    ("POST", "/v1/embeddings", {"model": "embed", "input": "x" * 300_000}, AUTH, 413),
    ("GET", "/v1/chat/completions", None, AUTH, 405),
    ("OPTIONS", "/v1/chat/completions", None, {}, 204),
    ("POST", "/up/v1/chat/completions/", {"model": "gpt-4o-mini", "messages": MESSAGES}, AUTH, 200),
])
def test_refusals_errors_and_other_methods_are_the_same(gateway: GatewayProcess, plain: GatewayProcess, method: str,
                                                        path: str, body: object, headers: dict[str, str],
                                                        status: int) -> None:
    seen = []
    for gw in both(gateway, plain):
        answer = httpx.request(method, gw.url + path, json=body, headers=headers, timeout=10)
        assert answer.status_code == status, answer.text
        names = sorted(name for name in answer.headers if name not in VARYING)
        seen.append((names, answer.headers.get("allow"), answer.json()["error"] if status >= 400 else None))
    assert seen[0] == seen[1]
