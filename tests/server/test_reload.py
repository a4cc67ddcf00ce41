"""Hot reload: a changed profile takes over without dropping a request; a broken one is refused."""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, eventually

PROFILE = """
server: {watch_profile: %s}
providers:
  - {name: up, provider: openai_compatible, credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}}
routes:
  - {model: chat, model_type: llm, deployments: [{target: up/gpt-4o-mini}]}
"""
EXTRA_ROUTE = "  - {model: %s, model_type: llm, deployments: [{target: up/gpt-4o}]}\n"
USER: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "still here?"}]


def start(upstream: FakeOpenAI, watch: bool) -> GatewayProcess:
    return GatewayProcess(PROFILE % str(watch).lower(), {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY})


@pytest.fixture
def watched(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    with start(upstream, watch=True) as gateway:
        yield gateway


def models(gateway: GatewayProcess) -> list[str]:
    return [m["id"] for m in httpx.get(f"{gateway.base_url}/models", timeout=5).json()["data"]]


def reloads_reached(gateway: GatewayProcess, count: int) -> bool:
    return gateway.log().count("reloaded:") >= count


def test_a_changed_file_is_picked_up_and_a_broken_one_refused(watched: GatewayProcess) -> None:
    original = watched.profile_path.read_text()
    watched.profile_path.write_text(original + EXTRA_ROUTE % "fresh")
    assert eventually(lambda: "fresh" in models(watched))
    watched.profile_path.write_text(original + "  - {model: broken, deployments: [{target: nowhere/x}]}\n")
    assert eventually(lambda: "not reloaded" in watched.log())
    assert f"{watched.profile_path}:7: routes[1].deployments[0].target" in watched.log()
    assert "fresh" in models(watched)  # the last good profile keeps serving
    watched.profile_path.write_bytes(original.encode() + b"# caf\xe9\n")  # not UTF-8: refused, watcher lives on
    assert eventually(lambda: "not valid UTF-8" in watched.log())
    watched.profile_path.write_text(original + EXTRA_ROUTE % "after")
    assert eventually(lambda: "after" in models(watched))


def test_sighup_reloads(upstream: FakeOpenAI) -> None:
    with start(upstream, watch=False) as gateway:
        loaded_at = httpx.get(f"{gateway.url}/health/ready", timeout=5).json()["profile_loaded_at"]
        gateway.profile_path.write_text(gateway.profile_path.read_text() + EXTRA_ROUTE % "hup")
        time.sleep(1.5)
        assert "hup" not in models(gateway)  # not watched
        gateway.signal(signal.SIGHUP)
        assert eventually(lambda: "hup" in models(gateway))
        # /health/ready tells which profile a replica serves: the reloaded one is younger (whole seconds)
        assert httpx.get(f"{gateway.url}/health/ready", timeout=5).json()["profile_loaded_at"] > loaded_at


def test_reloads_under_load_lose_no_request(watched: GatewayProcess) -> None:
    original = watched.profile_path.read_text()
    sdk = openai.OpenAI(base_url=watched.base_url, api_key="x", max_retries=0)  # thread-safe, one pool
    done = threading.Event()

    def keep_asking(_: int) -> list[int]:
        statuses = []
        while not done.is_set():
            statuses.append(sdk.chat.completions.with_raw_response.create(model="chat", messages=USER).status_code)
        return statuses

    with sdk, ThreadPoolExecutor(8) as pool:
        running = [pool.submit(keep_asking, i) for i in range(8)]
        for i in range(4):  # rewrite the profile while requests flow, waiting for each reload
            watched.profile_path.write_text(original + EXTRA_ROUTE % f"round{i}")
            assert eventually(functools.partial(reloads_reached, watched, i + 1))
        done.set()
        statuses = [status for future in running for status in future.result()]
    assert len(statuses) > 100 and set(statuses) == {200}


def test_a_stream_running_across_a_reload_finishes(watched: GatewayProcess) -> None:
    with openai.OpenAI(base_url=watched.base_url, api_key="x", max_retries=0) as sdk:
        stream = iter(sdk.chat.completions.create(model="up/fault-slow-stream-0.03", messages=USER, stream=True))
        next(stream)
        watched.profile_path.write_text(watched.profile_path.read_text() + EXTRA_ROUTE % "later")
        assert eventually(lambda: "later" in models(watched))
        rest = list(stream)
    assert rest[-1].choices[0].finish_reason == "stop"


def test_the_body_limit_is_a_restart_setting_for_every_route(upstream: FakeOpenAI) -> None:
    """``server.max_body_bytes`` holds from start-up to restart on model calls as on Litestar's routes (audio): a
    reload that changes it says so in the log and changes nothing."""
    profile = (PROFILE % "true").replace("watch_profile: true}", "watch_profile: true, max_body_bytes: 100000}")
    long: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "x" * 150_000}]
    with GatewayProcess(profile, {"FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY}) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="chat", messages=long)
        assert refused.value.status_code == 413
        gateway.profile_path.write_text(profile.replace("100000", "1000000") + EXTRA_ROUTE % "bigger")
        assert eventually(lambda: "bigger" in models(gateway))
        assert "take effect at the next restart" in gateway.log()
        with pytest.raises(openai.APIStatusError) as still:
            client.chat.completions.create(model="chat", messages=long)
        assert still.value.status_code == 413
        assert client.chat.completions.create(model="chat", messages=USER).choices[0].message.content
