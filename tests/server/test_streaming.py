"""Streams: SSE framing, events forwarded as they arrive, failures before and after the first byte,
and a client that goes away closing the upstream request."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import GATEWAY_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, eventually

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}


def test_sse_framing(gateway: GatewayProcess) -> None:
    body = {"model": "up/gpt-4o-mini", "messages": MESSAGES, "stream": True}
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=body, headers=AUTH) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        text = response.read().decode()
    events = text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith('data: {"id":"chatcmpl-') for e in events[:-2])


def test_events_are_forwarded_as_they_arrive(gateway: GatewayProcess) -> None:
    body = {"model": "up/fault-slow-stream-0.05", "messages": MESSAGES, "stream": True}
    arrivals: list[float] = []
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=body, headers=AUTH) as response:
        for _ in response.iter_raw():
            arrivals.append(time.monotonic())
    # 50 words, 50 ms apart upstream: a gateway that buffered would deliver everything in one burst.
    assert len(arrivals) > 20
    assert arrivals[-1] - arrivals[0] > 1.0


def test_error_before_first_byte_keeps_its_status(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="up/fault-status-429", messages=[{"role": "user", "content": "x"}],
                                       stream=True)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="down/x", messages=[{"role": "user", "content": "x"}], stream=True)
    assert caught.value.status_code == 502


def test_stream_cut_mid_way_ends_with_an_error_event(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="up/fault-cut-3",
                                                    messages=[{"role": "user", "content": "a b c d e f g"}],
                                                    stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) == 3  # what arrived before the cut was delivered, then the error
    assert caught.value.code == "upstream_stream_interrupted"
    assert "'up'" in caught.value.message


def test_garbage_in_a_stream_ends_with_an_error_event(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="up/fault-garbage", messages=[{"role": "user", "content": "x"}],
                                            stream=True))
    assert caught.value.code == "upstream_invalid_event"


def test_idle_upstream_stream_times_out_with_an_error_event(client: openai.OpenAI) -> None:
    # The profile's router.timeout_s is 1.5 s; this upstream pauses 2 s between events.
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="up/fault-slow-stream-2", messages=MESSAGES, stream=True))
    assert caught.value.code == "upstream_timeout"


@pytest.fixture(params=["uvicorn's connection", "ASGI"])
def either(request: pytest.FixtureRequest) -> GatewayProcess:
    """The gateway as it serves (the connection tells when the client leaves), and under plain ASGI (a task
    waits for ``http.disconnect``)."""
    gateway: GatewayProcess = request.getfixturevalue("gateway" if request.param != "ASGI" else "plain")
    return gateway


def test_client_disconnect_closes_the_upstream_request(either: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with openai.OpenAI(base_url=either.base_url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model="up/fault-slow-stream-0.2", messages=MESSAGES, stream=True)
        next(iter(stream))
        stream.close()
    assert upstream.wait_for_disconnect(timeout=5)


async def test_async_client_disconnect(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.clear()
    async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        stream = await sdk.completions.create(model="up/fault-slow-stream-0.2", prompt="x", stream=True)
        async for _ in stream:
            break
        await stream.close()
    assert upstream.wait_for_disconnect(timeout=5)


@pytest.mark.parametrize("stream", [False, True])
def test_client_leaving_before_the_first_byte_cancels_the_upstream_request(
        either: GatewayProcess, upstream: FakeOpenAI, stream: bool) -> None:
    # The upstream stalls 1.4 s, under the gateway's 1.5 s timeout: only the client's departure can end it early.
    upstream.clear()
    lines = either.log().count('"status":499')
    with openai.OpenAI(base_url=either.base_url, api_key=GATEWAY_KEY, max_retries=0, timeout=0.3) as sdk, \
            pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model="up/fault-stall-1.4", messages=MESSAGES, stream=stream)
    assert upstream.wait_for_disconnect(timeout=5)
    # Logged as nginx's 499 "client closed request" (the access lines of the served way), not as a server error.
    assert either.plain_uvicorn or eventually(lambda: either.log().count('"status":499') > lines)
    assert "Traceback" not in either.log()
