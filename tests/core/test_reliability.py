"""Cooldown bookkeeping and backoff, with a fake clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from core import errors
from core.model_types import ModelTarget
from core.profile import InstanceSpec, RouterConfig
from core.registry import Registry
from core.reliability import Cooldowns, _backoff, attempt
from core.router import Deployment
from core.schema import ModelType


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_failures_within_the_window_start_a_cooldown_that_ends() -> None:
    clock = Clock()
    cooldowns = Cooldowns(after=3, period_s=10, clock=clock)
    cooldowns.failed("a/m")
    clock.now += 11  # outside the window: forgotten
    cooldowns.failed("a/m")
    cooldowns.failed("a/m")
    assert cooldowns.remaining("a/m") == 0
    cooldowns.failed("a/m")
    assert cooldowns.remaining("a/m") == 10 and cooldowns.cooling() == {"a/m": 10}
    clock.now += 10
    assert cooldowns.remaining("a/m") == 0 and cooldowns.cooling() == {}


def test_a_success_forgets_failures() -> None:
    cooldowns = Cooldowns(after=2, period_s=10, clock=Clock())
    cooldowns.failed("a/m")
    cooldowns.succeeded("a/m")
    cooldowns.failed("a/m")
    assert cooldowns.remaining("a/m") == 0


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    config = RouterConfig(backoff_s=0.1, max_backoff_s=0.5)
    rng = random.Random(7)
    assert all(0 <= _backoff(config, 1, None, rng) <= 0.1 for _ in range(50))  # type: ignore[operator]
    assert max(_backoff(config, 5, None, rng) or 0 for _ in range(200)) <= 0.5
    assert _backoff(config, 1, errors.RateLimitError("slow down", retry_after=0.3), rng) == 0.3
    assert _backoff(config, 1, errors.RateLimitError("slow down", retry_after=5), rng) is None


async def test_the_retry_budget_stops_new_attempts() -> None:
    calls: list[str] = []

    async def failing(deployment: Deployment) -> str:
        calls.append(deployment.id)
        await asyncio.sleep(0.05)
        raise errors.UpstreamError("down")

    spec = InstanceSpec(name="a", plugin=Registry.discover()["openai"], credentials={}, models={}, any_model=True)
    only = Deployment(spec, ModelTarget(name="m", model_type=ModelType.LLM))
    config = RouterConfig(retries=10, backoff_s=0, retry_budget_s=0.12)
    with pytest.raises(errors.UpstreamError):
        await attempt([only], failing, config, Cooldowns(after=100, period_s=1))
    assert 2 <= len(calls) <= 4  # not the 11 that retries alone would allow
