"""Many replicas, one Redis (a real ``redis-server``): limits hold across gateway processes, usage is shared, and
a Redis that dies mid-test gives the configured fail-open or fail-closed answer at once, never a hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, eventually
from tests.redis_server import RedisServer

ADMIN = "mr-redis-admin-key-canary-2b71"
TEAM = "mr-redis-team-key-canary-8d03"
BATCH = "mr-redis-batch-key-canary-41fe"
RPM = 7


def profile(on_error: str) -> str:
    return f"""
server:
  keys:
    - {{name: ops, key: "${{ADMIN}}", admin: true}}
    - {{name: team, key: "${{TEAM}}", rpm: {RPM}}}
    - {{name: batch, key: "${{BATCH}}", max_parallel: 3}}
providers:
  - name: up
    provider: openai_compatible
    credentials: {{base_url: "${{FAKE_URL}}", api_key: "${{FAKE_KEY}}"}}
routes:
  - model: flaky
    model_type: llm
    deployments: [{{target: up/fault-status-503, weight: 1000000}}, {{target: up/gpt-4o-mini, weight: 0.000001}}]
state: {{url: "${{REDIS_URL}}", on_error: {on_error}, timeout_s: 0.2, retry_s: 0.5}}
router: {{retries: 0, cooldown_after: 1, cooldown_s: 600}}
"""


def replicas(upstream: FakeOpenAI, redis: RedisServer, on_error: str, count: int) -> list[GatewayProcess]:
    env = {"ADMIN": ADMIN, "TEAM": TEAM, "BATCH": BATCH, "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY,
           "REDIS_URL": redis.url}
    return [GatewayProcess(profile(on_error), env) for _ in range(count)]


@pytest.fixture(scope="module")
def shared(upstream: FakeOpenAI) -> Iterator[list[GatewayProcess]]:
    with RedisServer() as redis:
        gateways = replicas(upstream, redis, "closed", 2)
        try:
            for gateway in gateways:
                gateway.start()
            yield gateways
        finally:
            for gateway in gateways:
                gateway.close()


async def spread(gateways: list[GatewayProcess], key: str, n: int, model: str = "up/gpt-4o-mini") -> list[int]:
    """``n`` concurrent chat requests, dealt round-robin to the replicas; their statuses."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    clients = [httpx.AsyncClient(base_url=g.base_url, timeout=10, headers={"authorization": f"Bearer {key}"})
               for g in gateways]
    try:
        answers = await asyncio.gather(*(clients[i % len(clients)].post("/chat/completions", json=body)
                                         for i in range(n)))
    finally:
        for client in clients:
            await client.aclose()
    return [a.status_code for a in answers]


async def test_a_key_limited_to_n_rpm_gets_exactly_n_across_two_replicas(shared: list[GatewayProcess]) -> None:
    statuses = await spread(shared, TEAM, 4 * RPM)
    assert statuses.count(200) == RPM and statuses.count(429) == 3 * RPM
    usage = [httpx.get(f"{g.base_url}/usage", params={"key": "team"}, timeout=10,
                       headers={"authorization": f"Bearer {ADMIN}"}).json() for g in shared]
    assert usage[0] == usage[1]  # one shared account, whichever replica answers
    assert usage[0]["totals"]["requests"] == RPM


async def test_max_parallel_holds_across_replicas(shared: list[GatewayProcess]) -> None:
    statuses = await spread(shared, BATCH, 10, model="up/fault-stall-0.5")
    assert statuses.count(200) == 3 and statuses.count(429) == 7
    assert (await spread(shared, BATCH, 3)).count(200) == 3  # every slot was given back


def test_a_cooldown_one_replica_starts_holds_on_every_replica(shared: list[GatewayProcess]) -> None:
    first, second = shared
    answer = timed_chat(first, ADMIN, "flaky")[0]
    assert answer.headers["x-model-runtime-attempts"] == "2"  # the failing deployment, then the other
    assert eventually(lambda: "up/fault-status-503" in httpx.get(f"{second.url}/health/ready").json()["cooldowns"])
    answer = timed_chat(second, ADMIN, "flaky")[0]
    assert answer.headers["x-model-runtime-attempts"] == "1"
    assert answer.headers["x-model-runtime-deployment"] == "up/gpt-4o-mini"


def timed_chat(gateway: GatewayProcess, key: str, model: str = "up/gpt-4o-mini") -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"authorization": f"Bearer {key}"},
                          json={"model": model, "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    return response, time.monotonic() - started


async def test_redis_killed_mid_test_fails_open_or_closed_as_configured(upstream: FakeOpenAI) -> None:
    with RedisServer() as redis:
        open_gw, closed_gw = replicas(upstream, redis, "open", 1) + replicas(upstream, redis, "closed", 1)
        with open_gw, closed_gw:
            assert timed_chat(open_gw, TEAM)[0].status_code == 200
            assert timed_chat(closed_gw, TEAM)[0].status_code == 200
            # A call in flight when Redis dies still gets its answer: its settlement fails quietly.
            in_flight = asyncio.ensure_future(asyncio.to_thread(timed_chat, open_gw, BATCH, "up/fault-stall-0.6"))
            await asyncio.sleep(0.2)
            redis.kill()
            answer, _ = await in_flight
            assert answer.status_code == 200
            for _ in range(RPM + 3):  # past the limit: nothing counts while Redis is away
                answer, took = timed_chat(open_gw, TEAM)
                assert answer.status_code == 200 and took < 1.5
                assert "x-ratelimit-remaining-requests" in answer.headers
            for _ in range(3):
                answer, took = timed_chat(closed_gw, TEAM)
                assert answer.status_code == 503 and took < 1.5
                assert answer.json()["error"]["code"] == "state_unavailable"
                assert int(answer.headers["retry-after"]) >= 1
            # Keys without limits never needed Redis.
            assert timed_chat(closed_gw, ADMIN)[0].status_code == 200
