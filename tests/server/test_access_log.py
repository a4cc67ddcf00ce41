"""Request ids and the JSON access log: one line per request naming who answered, never a prompt or a key."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import openai
import pytest

from core.timers import RESOLUTION_S
from server.access import _MAX_PENDING, FLUSH_S, JSONLines
from tests.conftest import GATEWAY_KEY, PROFILE, UPSTREAM_KEY, profile_env
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, eventually

PROMPT = "PROMPT-CANARY-9d41 tell me a secret"


def access_line(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in gateway.log().splitlines():
            if line.startswith("{") and f'"id":"{request_id}"' in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id}")


def test_each_request_is_logged_once_with_its_id(gateway: GatewayProcess, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": PROMPT}], extra_headers={"x-request-id": "req-abc.1"})
    assert raw.headers["x-request-id"] == "req-abc.1"
    entry = access_line(gateway, "req-abc.1")
    assert {k: entry[k] for k in ("method", "path", "status", "deployment", "attempts", "key", "model")} == {
        "method": "POST", "path": "/v1/chat/completions", "status": 200, "deployment": "up/gpt-4o-mini",
        "attempts": "1", "key": "api_keys[0]", "model": "chat"}
    assert entry["ms"] > 0
    log = gateway.log()
    assert "PROMPT-CANARY-9d41" not in log and GATEWAY_KEY not in log and UPSTREAM_KEY not in log


def test_unusable_ids_are_replaced_and_unknown_routes_logged(gateway: GatewayProcess) -> None:
    response = httpx.get(f"{gateway.url}/nope", headers={"x-request-id": "has spaces and\ttabs"}, timeout=5)
    request_id = response.headers["x-request-id"]
    assert response.status_code == 404 and re.fullmatch(r"[0-9a-f]{24}", request_id)
    assert access_line(gateway, request_id)["status"] == 404


def test_generated_ids_are_unique_and_every_line_is_written_whole(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, timeout=5) as http:
        ids = [http.get("/health/live").headers["x-request-id"] for _ in range(60)]
    assert len(set(ids)) == 60 and all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    for request_id in ids:
        assert access_line(gateway, request_id)["path"] == "/health/live"
    lines = [line for line in gateway.log().splitlines() if any(i in line for i in ids)]
    assert len(lines) == 60 and all(json.loads(line)["status"] == 200 for line in lines)


def test_ids_are_unique_across_workers(upstream: FakeOpenAI) -> None:
    # The workers are forked from the supervisor, which imported server.access: each draws a prefix of its own.
    with GatewayProcess(PROFILE, profile_env(upstream), workers=2) as gw:
        ids: list[str] = []

        def both_answered() -> bool:  # new connections each: the kernel spreads them over both workers
            ids.extend(httpx.get(f"{gw.url}/health/live", timeout=5).headers["x-request-id"] for _ in range(8))
            return len({i[:12] for i in ids}) == 2

        assert eventually(both_answered, 10.0)  # the second worker may start listening a moment after the first
    assert len(set(ids)) == len(ids)


def test_a_workers_last_lines_are_written_when_it_stops(upstream: FakeOpenAI) -> None:
    # Lines wait up to FLUSH_S for their timer; a forked worker ends without logging's exit hook.
    with GatewayProcess(PROFILE, profile_env(upstream), workers=2) as gw:
        ids = [f"last-line-{i}" for i in range(6)]
        for request_id in ids:
            httpx.get(f"{gw.url}/health/live", headers={"x-request-id": request_id}, timeout=5)
        gw.terminate()
        gw.wait(30)
        log = gw.log()
    assert [i for i in ids if f'"id":"{i}"' not in log] == []


def test_model_calls_refused_or_wrong_are_logged_with_their_id(gateway: GatewayProcess) -> None:
    # server/calls.py keeps these lines itself: a refusal before the call and a wrong method are lines too
    refused = httpx.post(f"{gateway.url}/v1/chat/completions/", json={"model": "chat", "messages": []}, timeout=5,
                         headers={"x-request-id": "refused-1"})
    wrong = httpx.get(f"{gateway.url}/v1/embeddings", headers={"x-request-id": "wrong-1"}, timeout=5)
    assert refused.headers["x-request-id"] == "refused-1" and wrong.headers["x-request-id"] == "wrong-1"
    assert access_line(gateway, "refused-1") | {"ms": 0} == {
        "id": "refused-1", "method": "POST", "path": "/v1/chat/completions/", "status": 401, "ms": 0}
    assert access_line(gateway, "wrong-1")["status"] == 405


def test_lines_are_written_together_after_a_short_wait_in_a_loop_and_at_once_outside(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    handler = JSONLines()

    async def serve() -> tuple[bytes, bytes]:
        handler.write(b'{"id":"a"}')
        handler.write(b'{"id":"b"}')
        await asyncio.sleep(0)
        early = capsysbinary.readouterr().out
        await asyncio.sleep(FLUSH_S + 2 * RESOLUTION_S)
        return early, capsysbinary.readouterr().out

    assert asyncio.run(serve()) == (b"", b'{"id":"a"}\n{"id":"b"}\n')
    handler.write(b'{"id":"c"}')  # no loop: at once
    assert capsysbinary.readouterr().out == b'{"id":"c"}\n'
    asyncio.run(serve())
    handler.write(b'{"id":"d"}')
    handler.close()  # logging's shutdown: what is pending goes out
    assert capsysbinary.readouterr().out == b'{"id":"d"}\n'


def test_lines_left_by_a_loop_that_ended_go_out_with_the_next_ones_within_a_bound(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    handler = JSONLines()

    async def one_line() -> None:
        handler.write(b"first")  # its flush is set on this loop, which ends at once

    asyncio.run(one_line())
    assert capsysbinary.readouterr().out == b""

    async def many() -> None:
        for i in range(_MAX_PENDING):
            handler.write(b"%d" % i)

    asyncio.run(many())
    assert capsysbinary.readouterr().out.split(b"\n")[:2] == [b"first", b"0"]
    handler.close()
    assert capsysbinary.readouterr().out == b"%d\n" % (_MAX_PENDING - 1)  # the one after the bound's flush
