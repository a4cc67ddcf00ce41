"""Key policies from the profile (and their mistakes, located), and the two states counting exactly under
concurrency: in this process and in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.catalogue import profile_view
from core.limits import DeploymentLimit, KeyPolicy, Settlement, budget_period
from core.profile import ProfileError, load_profile
from core.redis_state import RedisState
from core.server_config import KeyConfig, StateConfig
from core.state import DeploymentLoad, MemoryState, State
from tests.redis_server import RedisServer

KEYS = """
server:
  keys:
    - {name: a, key: "${KEY_A}", rpm: 3, models: ["chat", "openai/*"]}
    - {name: a, key: "${KEY_B:-}"}
    - {name: c, key: "${KEY_A}", paths: [""]}
    - {name: d, key: x, rpm: 0}
state: {url: "mongodb://x", on_error: maybe}
"""


def test_key_mistakes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(KEYS)
    with pytest.raises(ProfileError) as caught:
        load_profile(path, {"KEY_A": "secret-a-0123456789"})
    found = [str(e).replace(str(path), "p.yaml") for e in caught.value.errors]
    assert found == ["p.yaml:7: server.keys[3].rpm: expected int >= 1"]
    path.write_text(KEYS.replace(", rpm: 0", "").replace("on_error: maybe", "on_error: open"))
    with pytest.raises(ProfileError) as caught:
        load_profile(path, {"KEY_A": "secret-a-0123456789"})
    found = [str(e).replace(str(path), "p.yaml") for e in caught.value.errors]
    assert found == [
        "p.yaml:8: state.url: must be 'memory' or a redis:// URL",
        "p.yaml:5: server.keys[1].name: key name 'a' is used twice",
        "p.yaml:6: server.keys[2].key: the same secret is given to another key",
        "p.yaml:6: server.keys[2].paths[0]: an empty glob matches nothing",
    ]


def test_the_profile_view_masks_key_secrets_and_state_passwords(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("""
server: {keys: [{name: a, key: "${K}", rpm: 3}]}
state: {url: "redis://:hunter2-canary@127.0.0.1:6379/0", on_error: closed}
""")
    view = profile_view(load_profile(path, {"K": "mr-secret-canary-0123456789abcdef"}))
    text = repr(view)
    assert "mr-secret-canary" not in text and "hunter2-canary" not in text
    assert view["server"]["keys"][0]["name"] == "a" and view["server"]["keys"][0]["key"] == "mr-...cdef"


def test_globs_scope_models_and_paths() -> None:
    policy = KeyPolicy.from_config(KeyConfig(name="k", key="s", models=["chat", "openai/gpt-4o*"],
                                             paths=["/v1/chat/*"]))
    assert policy.may_use_model("chat") and policy.may_use_model("openai/gpt-4o-mini")
    assert not policy.may_use_model("chat2") and not policy.may_use_model("anthropic/claude")
    assert policy.may_use_path("/v1/chat/completions") and not policy.may_use_path("/v1/embeddings")
    anything = KeyPolicy.from_config(KeyConfig(name="k", key="s"))
    assert anything.models is None and anything.paths is None and not anything.limited


def test_budget_periods_are_utc_calendar_days_and_months() -> None:
    at = 1795934691.0  # 2026-11-29T06:44:51Z
    period, left = budget_period("day", at)
    assert period == "2026-11-29" and left == pytest.approx(86400 - (6 * 3600 + 44 * 60 + 51))
    period, left = budget_period("month", at)
    assert period == "2026-11" and left == pytest.approx(86400 + 86400 - (6 * 3600 + 44 * 60 + 51))


def test_a_deployment_is_busy_until_its_window_ends() -> None:
    now = [100.0]
    load = DeploymentLoad(lambda: now[0])
    limit = DeploymentLimit(rpm=2, tpm=50)
    load.add("a/m", 10)
    assert load.busy_for("a/m", limit) == 0
    load.add("a/m", 10)
    assert load.busy_for("a/m", limit) == pytest.approx(60)
    now[0] += 60
    assert load.busy_for("a/m", limit) == 0
    load.add("a/m", 60)  # one large call fills the token window
    assert load.busy_for("a/m", limit) == pytest.approx(60)
    load.mirror("b/m", 1, 0, 5.0)
    assert load.busy_for("b/m", DeploymentLimit(rpm=1)) == pytest.approx(5.0)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest, redis: RedisServer) -> AsyncIterator[State]:
    if request.param == "memory":
        yield MemoryState()
        return
    # The counting is under test here, not the timeout: a loaded machine must not turn it into fail-open.
    found = RedisState(StateConfig(url=redis.url, timeout_s=5))
    await found._redis.flushdb()
    try:
        yield found
    finally:
        await found.aclose()


async def test_exactly_m_of_n_concurrent_admissions(state: State) -> None:
    key = KeyPolicy(name="k", rpm=10, limited=True)
    answers = await asyncio.gather(*(state.admit(key) for _ in range(50)))
    assert sum(a.admitted for a in answers) == 10
    assert sorted(a.requests_left for a in answers if a.admitted) == list(range(10))
    refused = [a for a in answers if not a.admitted]
    assert {a.reason for a in refused} == {"requests"} and all(0 < a.retry_after_s <= 60 for a in refused)


async def test_parallel_slots_tokens_and_budget(state: State) -> None:
    key = KeyPolicy(name="p", max_parallel=2, tpm=100, budget=0.5, budget_period="day", limited=True)
    first, second, third = [await state.admit(key) for _ in range(3)]
    assert first.held and second.held and third.reason == "parallel"
    await state.settle(key, first, Settlement(key="p", model="m", deployment="d/m", prompt_tokens=40,
                                              completion_tokens=20, cost=0.2), None)
    fourth = await state.admit(key)
    assert fourth.admitted and fourth.tokens_left == 40
    await state.settle(key, second, Settlement(key="p", model="m", deployment="d/m", prompt_tokens=40,
                                               cost=0.3), None)
    refused = await state.admit(key)
    assert refused.reason == "tokens" and refused.tokens_left == 0
    await state.settle(key, fourth, Settlement(key="p", model="m", deployment="d/m", error=True), None)
    [row] = await state.usage()
    assert (row.key, row.model, row.deployment, row.requests, row.errors) == ("p", "m", "d/m", 3, 1)
    assert (row.prompt_tokens, row.completion_tokens) == (80, 20) and row.cost == pytest.approx(0.5)
    thrifty = KeyPolicy(name="q", budget=0.5, budget_period="day", limited=True)
    admitted = await state.admit(thrifty)
    assert admitted.admitted
    await state.settle(thrifty, admitted, Settlement(key="q", model="m", deployment="d/m", cost=0.5), None)
    assert (await state.admit(thrifty)).reason == "budget"


async def test_deployment_windows_reach_the_router_view(state: State) -> None:
    key = KeyPolicy(name="u")
    for _ in range(2):
        await state.settle(key, None, Settlement(key="u", model="chat", deployment="a/m", prompt_tokens=5),
                           DeploymentLimit(rpm=2))
    assert state.load.busy_for("a/m", DeploymentLimit(rpm=2)) > 0
    assert state.load.busy_for("a/m", DeploymentLimit(rpm=3)) == 0
