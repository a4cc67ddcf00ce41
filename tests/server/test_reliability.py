"""Retries, fallbacks and cooldowns through a real gateway in front of the fault-injecting fake upstream."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

PROFILE = """
providers:
  - {name: a, provider: openai_compatible, credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}}
  - {name: b, provider: openai_compatible, credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}}
  - {name: bad, provider: openai_compatible, credentials: {base_url: "${FAKE_URL}", api_key: sk-wrong-0000}}
routes:
  - {model: resilient, model_type: llm, deployments: [{target: a/fault-status-500}], fallbacks: [b/gpt-4o-mini]}
  - {model: doomed, model_type: llm, deployments: [{target: a/fault-status-502}, {target: b/fault-status-502}]}
  - {model: badcreds, model_type: llm, deployments: [{target: bad/gpt-4o-mini}], fallbacks: [b/gpt-4o-mini]}
  - {model: clientfault, model_type: llm, deployments: [{target: a/fault-status-400}], fallbacks: [b/gpt-4o-mini]}
  - {model: unpaid, model_type: llm, deployments: [{target: a/fault-status-402}], fallbacks: [b/gpt-4o-mini]}
  - {model: forbidden, model_type: llm, deployments: [{target: a/fault-status-403}], fallbacks: [b/gpt-4o-mini]}
  - {model: forbidden-alone, model_type: llm, deployments: [{target: a/fault-status-403}]}
  - {model: cutting, model_type: llm, deployments: [{target: a/fault-cut-2}], fallbacks: [b/gpt-4o-mini]}
  - {model: slow, model_type: llm, deployments: [{target: a/fault-stall-3}], fallbacks: [b/gpt-4o-mini]}
  - {model: limited, model_type: llm, deployments: [{target: a/fault-status-429}]}
  - {model: ratelimited, model_type: llm, deployments: [{target: a/fault-status-429}], fallbacks: [b/gpt-4o-mini]}
  - model: impatient
    model_type: llm
    deployments: [{target: a/fault-stall-0.8, timeout_s: 0.3}]   # the router would wait 1.0 s
    fallbacks: [b/gpt-4o-mini]
  - model: roomy
    model_type: llm
    deployments: [{target: a/fault-context}]
    fallbacks: [b/fault-status-500]                                 # not for a request that is too long
    context_fallbacks: [b/gpt-4o-mini]
  - {model: tuned, model_type: llm, deployments: [{target: b/gpt-4o-mini, params: {temperature: 0.2, seed: 42}}]}
  - {model: hesitant, model_type: llm, deployments: [{target: a/fault-stall-0.8}], fallbacks: [b/gpt-4o-mini]}
router: {timeout_s: 1.0, connect_timeout_s: 1, retries: 2, backoff_s: 0.01, max_backoff_s: 0.05,
         cooldown_after: 3, cooldown_s: 1.5, first_byte_timeout_s: 0.5, stream_timeout_s: 2.0}
"""
USER: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY}) as gw:
        yield gw


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0) as sdk:
        yield sdk


def models_sent(upstream: FakeOpenAI) -> list[str]:
    return [r.json()["model"] for r in upstream.requests]


@pytest.mark.parametrize(("route", "first"), [("resilient", "fault-status-500"), ("badcreds", "gpt-4o-mini"),
                                              ("cutting", "fault-cut-2"), ("slow", "fault-stall-3"),
                                              ("ratelimited", "fault-status-429"), ("unpaid", "fault-status-402"),
                                              ("forbidden", "fault-status-403")])
def test_the_fallback_answers_when_the_primary_fails(client: openai.OpenAI, upstream: FakeOpenAI, route: str,
                                                     first: str) -> None:
    upstream.clear()
    raw = client.chat.completions.with_raw_response.create(model=route, messages=USER)
    assert raw.parse().choices[0].message.content == "echo: hello there"
    assert raw.headers["x-model-runtime-deployment"] == "b/gpt-4o-mini"
    assert raw.headers["x-model-runtime-attempts"] == "2"
    assert models_sent(upstream) == [first, "gpt-4o-mini"]


def test_a_deployments_own_timeout_and_parameter_overrides(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    raw = client.chat.completions.with_raw_response.create(model="impatient", messages=USER)
    assert raw.headers["x-model-runtime-deployment"] == "b/gpt-4o-mini"
    assert models_sent(upstream) == ["fault-stall-0.8", "gpt-4o-mini"]
    upstream.clear()
    client.chat.completions.create(model="tuned", messages=USER, temperature=1.5)
    sent = upstream.requests[-1].json()
    assert (sent["temperature"], sent["seed"], sent["model"]) == (0.2, 42, "gpt-4o-mini")


def test_a_request_too_long_goes_to_the_context_fallback(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    raw = client.chat.completions.with_raw_response.create(model="roomy", messages=USER)
    assert raw.headers["x-model-runtime-deployment"] == "b/gpt-4o-mini"
    assert models_sent(upstream) == ["fault-context", "gpt-4o-mini"]
    upstream.clear()
    with pytest.raises(openai.BadRequestError) as caught:  # a direct call has no context fallback
        client.chat.completions.create(model="a/fault-context", messages=USER)
    assert caught.value.code == "context_length_exceeded" and models_sent(upstream) == ["fault-context"]


def test_first_byte_and_stream_timeouts(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model="hesitant", messages=USER)
    assert raw.headers["x-model-runtime-deployment"] == "b/gpt-4o-mini"
    assert time.monotonic() - started < 0.8  # gave up on the first at 0.5 s, before its 0.8 s answer
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="a/fault-slow-stream-0.1", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert caught.value.code == "stream_timeout" and 1.9 < time.monotonic() - started < 3
    assert 10 < len(received) < 30  # 5 s of events cut at 2 s


def test_any_model_name_makes_a_valid_header_and_calls_are_counted_out(gateway: GatewayProcess,
                                                                       client: openai.OpenAI) -> None:
    for name, header in [("a/通义千问", "a/%E9%80%9A%E4%B9%89%E5%8D%83%E9%97%AE"),
                         ("a/x\r\nx-injected: 1", "a/x%0D%0Ax-injected:%201")]:
        raw = client.chat.completions.with_raw_response.create(model=name, messages=USER)
        assert raw.headers["x-model-runtime-deployment"] == header and "x-injected" not in raw.headers
        chunks = list(client.chat.completions.create(model=name, messages=USER, stream=True))
        assert chunks[-1].choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(model="a/fault-slow-stream-0.05", messages=USER, stream=True)
    next(iter(stream))
    stream.close()  # the client leaves mid-stream
    assert eventually_zero_in_flight(gateway)


def eventually_zero_in_flight(gateway: GatewayProcess) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if httpx.get(f"{gateway.url}/health/ready", timeout=5).json()["in_flight"] == 0:
            return True
        time.sleep(0.05)
    return False


def test_the_requests_own_mistakes_are_not_retried(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="clientfault", messages=USER)
    assert models_sent(upstream) == ["fault-status-400"]


def test_the_gateways_own_account_refused_is_a_503_that_says_so_and_is_not_tried_again(
        client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="forbidden-alone", messages=USER)
    assert caught.value.status_code == 503 and "provider instance 'a' refuses the gateway's account" in \
        caught.value.message
    assert models_sent(upstream) == ["fault-status-403"]  # retries: 2, but the same account would refuse again


def test_no_retry_after_the_first_byte(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model="cutting", messages=USER, stream=True))
    assert caught.value.code == "upstream_stream_interrupted"
    assert models_sent(upstream) == ["fault-cut-2"]  # the stream had started: no fallback


def test_a_long_retry_after_ends_the_retries(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="limited", messages=USER)
    assert caught.value.response.headers["retry-after"] == "1"
    assert models_sent(upstream) == ["fault-status-429"]


def test_retries_are_bounded_then_deployments_cool_down(gateway: GatewayProcess, client: openai.OpenAI,
                                                        upstream: FakeOpenAI) -> None:
    upstream.clear()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="doomed", messages=USER)
    assert caught.value.status_code == 502 and len(upstream.requests) == 4  # each once, then retries: 2
    for _ in range(2):  # a and b each reach three failures within the window
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="doomed", messages=USER)
    cooling = httpx.get(f"{gateway.url}/health/ready", timeout=5).json()["cooldowns"]
    assert set(cooling) == {"a/fault-status-502", "b/fault-status-502"}
    upstream.clear()
    with pytest.raises(openai.InternalServerError) as resting:
        client.chat.completions.create(model="doomed", messages=USER)
    assert resting.value.status_code == 503 and resting.value.code == "deployments_cooling_down"
    assert 1 <= int(resting.value.response.headers["retry-after"]) <= 2
    assert upstream.requests == []  # nobody was bothered
    time.sleep(1.6)  # the cooldown ends: the deployments are tried again
    with pytest.raises(openai.InternalServerError) as again:
        client.chat.completions.create(model="doomed", messages=USER)
    assert again.value.status_code == 502 and len(upstream.requests) == 4


def test_sigterm_lets_a_running_stream_finish(upstream: FakeOpenAI) -> None:
    with GatewayProcess(PROFILE, {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY}) as gateway, \
            openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model="a/fault-slow-stream-0.02", messages=USER, stream=True)
        chunks = iter(stream)
        first = next(chunks)
        gateway.terminate()  # SIGTERM while the stream runs: new connections are refused, this one finishes
        rest = list(chunks)
        text = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
        assert len(text.split()) == 50 and rest[-1].choices[0].finish_reason == "stop"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{gateway.url}/health/live", timeout=2)
        assert gateway.wait(timeout=10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained


def test_sigterm_with_a_drain_period_fails_readiness_first(upstream: FakeOpenAI) -> None:
    profile = PROFILE.replace("providers:", "server: {drain_s: 1.5}\nproviders:", 1)
    with GatewayProcess(profile, {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY}) as gateway, \
            openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0) as sdk:
        stream = iter(sdk.chat.completions.create(model="a/fault-slow-stream-0.03", messages=USER, stream=True))
        next(stream)
        gateway.terminate()
        time.sleep(0.3)
        ready = httpx.get(f"{gateway.url}/health/ready", timeout=2)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        assert sdk.chat.completions.create(model="b/gpt-4o-mini", messages=USER).choices  # still served
        rest = list(stream)  # 1.5 s of events, within the drain and the shutdown that follows
        assert rest[-1].choices[0].finish_reason == "stop"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{gateway.url}/health/live", timeout=2)
        assert gateway.wait(timeout=10) in (0, -signal.SIGTERM)
