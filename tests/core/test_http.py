"""The aiohttp-backed upstream client: what reaches the upstream, and httpx's exceptions for failures."""

from __future__ import annotations

import base64

import httpx
import pytest

from core.http import Upstream
from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import free_port


async def test_the_fast_path_sends_the_client_headers_and_userinfo_as_basic_auth(upstream: FakeOpenAI) -> None:
    upstream.clear()
    base = upstream.base_url.replace("http://", "http://user:s3cret@")
    client = Upstream(base + "/", {"user-agent": "t/1"}, timeout_s=5, connect_timeout_s=1)
    try:
        response = await client.fetch("POST", "chat/completions", b"{}", {"content-type": "application/json"})
        await response.aread()
        await response.aclose()
    finally:
        await client.aclose()
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.headers["user-agent"] == "t/1"
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"user:s3cret").decode()
    assert sent.headers["accept-encoding"] == "identity"  # bodies pass through as they come, never compressed


async def test_connection_refused_is_httpx_connect_error() -> None:
    client = Upstream(f"http://127.0.0.1:{free_port()}/v1/", {}, timeout_s=5, connect_timeout_s=1)
    try:
        with pytest.raises(httpx.ConnectError):
            await client.fetch("GET", "models")
    finally:
        await client.aclose()
    with pytest.raises(httpx.LocalProtocolError):  # a closed client does not quietly open a new pool
        await client.fetch("GET", "models")


async def test_read_timeout_is_httpx_read_timeout(upstream: FakeOpenAI) -> None:
    client = Upstream(upstream.base_url + "/", {"authorization": f"Bearer {UPSTREAM_KEY}"}, timeout_s=0.2,
                      connect_timeout_s=1)
    body = b'{"model": "fault-stall-2", "messages": [{"role": "user", "content": "x"}]}'
    try:
        with pytest.raises(httpx.ReadTimeout):
            await client.fetch("POST", "chat/completions", body, {"content-type": "application/json"})
    finally:
        await client.aclose()


async def test_the_fast_path_streams_the_body_as_it_arrives(upstream: FakeOpenAI) -> None:
    client = Upstream(upstream.base_url + "/", {"authorization": f"Bearer {UPSTREAM_KEY}"}, timeout_s=5,
                      connect_timeout_s=1)
    body = b'{"model": "fault-slow-stream-0.02", "stream": true, "messages": [{"role": "user", "content": "x"}]}'
    try:
        response = await client.fetch("POST", "chat/completions", body, {"content-type": "application/json"})
        assert response.status_code == 200 and response.content_type.startswith("text/event-stream")
        assert response.headers["content-type"] == response.content_type
        pieces = [piece async for piece in response.aiter_bytes()]
        await response.aclose()
    finally:
        await client.aclose()
    assert len(pieces) > 10  # the events are 20 ms apart: each is handed over as it comes, not gathered
    joined = b"".join(pieces)
    assert joined.startswith(b"data: {") and joined.endswith(b"data: [DONE]\n\n")
