"""Cooldown bookkeeping and backoff, with a fake clock."""

from __future__ import annotations

import asyncio
import random

import msgspec
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
    config = RouterConfig(retries=10, backoff_s=0, retry_budget_s=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.ModelRuntimeError):
        await attempt([only], failing, config, Cooldowns(after=100, period_s=1))
    assert asyncio.get_running_loop().time() - started < 0.6  # the budget, not 11 attempts of 0.05 s plus waits
    assert 2 <= len(calls) <= 7


async def test_every_candidate_once_then_retries_without_skipping() -> None:
    calls: list[str] = []

    async def call(deployment: Deployment) -> str:
        calls.append(deployment.id)
        if deployment.id == "a/m":
            raise errors.ProviderAuthenticationError("rejected")  # another deployment, never this one again
        raise errors.UpstreamError("down")

    spec = InstanceSpec(name="x", plugin=Registry.discover()["openai"], credentials={}, models={}, any_model=True)
    a, b, c = (Deployment(msgspec.structs.replace(spec, name=n), ModelTarget(name="m", model_type=ModelType.LLM))
               for n in "abc")
    with pytest.raises(errors.UpstreamError):
        await attempt([a, b, c], call, RouterConfig(retries=3, backoff_s=0), Cooldowns(after=100, period_s=1))
    assert calls == ["a/m", "b/m", "c/m", "b/m", "c/m", "b/m"]


@pytest.mark.parametrize(("others", "raised"), [
    ("unable", "a cannot"),  # none can: the first refusal is the answer
    ("down", "down"),  # one failed as a deployment fails: that is the answer
])
async def test_a_request_one_deployment_cannot_serve_goes_to_the_next_without_cooling_it(
        others: str, raised: str) -> None:
    calls: list[str] = []

    async def call(deployment: Deployment) -> str:
        calls.append(deployment.id)
        if deployment.id == "a/m" or others == "unable":
            raise errors.InvalidRequestError(f"{deployment.id[0]} cannot", param="n", code="unsupported_parameter")
        raise errors.UpstreamError("down")

    spec = InstanceSpec(name="x", plugin=Registry.discover()["openai"], credentials={}, models={}, any_model=True)
    a, b = (Deployment(msgspec.structs.replace(spec, name=n), ModelTarget(name="m", model_type=ModelType.LLM))
            for n in "ab")
    cooldowns = Cooldowns(after=1, period_s=60)
    with pytest.raises(errors.ModelRuntimeError, match=raised):
        await attempt([a, b], call, RouterConfig(retries=2, backoff_s=0), cooldowns)
    assert calls[:2] == ["a/m", "b/m"] and "a/m" not in calls[2:]  # never asked again
    assert cooldowns.remaining("a/m") == 0  # not a failure of the deployment


def test_retry_after_rests_a_deployment_that_long() -> None:
    clock = Clock()
    cooldowns = Cooldowns(after=3, period_s=10, clock=clock)
    cooldowns.failed("a/m", retry_after=4)
    assert cooldowns.remaining("a/m") == 4
    clock.now += 4
    assert cooldowns.remaining("a/m") == 0


async def test_one_deployment_without_time_limits_is_retried_only_when_another_attempt_can_help() -> None:
    spec = InstanceSpec(name="a", plugin=Registry.discover()["openai"], credentials={}, models={}, any_model=True)
    only = Deployment(spec, ModelTarget(name="m", model_type=ModelType.LLM))
    other = Deployment(msgspec.structs.replace(spec, name="b"), ModelTarget(name="m", model_type=ModelType.LLM))
    answers: list[BaseException | str] = []
    calls: list[str] = []

    async def call(deployment: Deployment) -> str:
        calls.append(deployment.id)
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    config, cooldowns = RouterConfig(retries=2, backoff_s=0), Cooldowns(after=1, period_s=10)
    answers[:] = [errors.UpstreamError("down"), errors.RateLimitError("slow down"), "ok"]
    outcome = await attempt([only], call, config, cooldowns)
    assert (outcome.value, outcome.deployment, outcome.attempts, calls) == ("ok", only, 3, ["a/m"] * 3)
    assert cooldowns.cooling() == {}  # one candidate: no choice, so nothing rests

    for final in (errors.ProviderAuthenticationError("rejected"), errors.InvalidRequestError("bad", param="x")):
        calls.clear()
        answers[:] = [final, "never"]
        with pytest.raises(type(final)):
            await attempt([only], call, config, cooldowns)
        assert calls == ["a/m"]

    calls.clear()
    answers[:] = [errors.UpstreamError("down")] * 3
    with pytest.raises(errors.UpstreamError):
        await attempt([only], call, config, cooldowns)
    assert calls == ["a/m"] * 3  # the first attempt and two retries

    calls.clear()
    answers[:] = [errors.UpstreamError("first"), errors.UpstreamError("second"), errors.UpstreamError("third")]
    with pytest.raises(errors.UpstreamError) as raised:
        await attempt([only], call, config, cooldowns)
    assert str(raised.value) == "third" and raised.value.__context__ is None  # not chained to the first failure

    calls.clear()
    answers[:] = [errors.InvalidRequestError("too long", code="context_length_exceeded"), "longer"]
    outcome = await attempt([only], call, config, cooldowns, context_fallbacks=[other])
    assert (outcome.value, outcome.deployment, calls) == ("longer", other, ["a/m", "b/m"])
