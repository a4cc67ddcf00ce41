"""Cooldown bookkeeping and backoff, with a fake clock."""

from __future__ import annotations

import random

from core import errors
from core.profile import RouterConfig
from core.reliability import Cooldowns, _backoff


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
