"""Retries, fallbacks and cooldowns: trying a request's deployments in order until one answers.

A request resolves to an ordered list of deployments (a route's weighted pick, its other deployments, then its
fallbacks). :func:`attempt` calls them in that order and goes round again with jittered exponential backoff, up to
``router.retries`` extra attempts, and only for failures another attempt can fix:

* retryable anywhere (the same deployment may answer next time): 429, upstream 5xx and connection failures,
  timeouts, overload;
* worth another deployment but not the same one: the upstream rejected the gateway's credentials, the instance
  is not configured;
* never retried: the request's own mistakes (400, 404, 413, ...) and a client that went away.

Everything here happens before the first byte reaches the client: a provider returns a stream only once the
upstream answered with its headers, and a failure after that ends the stream instead.

A deployment that fails ``cooldown_after`` times within ``cooldown_s`` is skipped for ``cooldown_s`` when its
request has somewhere else to go; when every candidate is cooling down the answer is a 503 with ``Retry-After``.
The state is per worker process for now.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from . import errors
from .profile import RouterConfig
from .router import Deployment, DeploymentStats

__all__ = ["Cooldowns", "Outcome", "attempt"]

log = logging.getLogger("model_runtime")
T = TypeVar("T")

_RNG = random.Random()
REQUEST_TOO_LONG: tuple[type[errors.ModelRuntimeError], ...] = (errors.InvalidRequestError,)
RETRYABLE: tuple[type[errors.ModelRuntimeError], ...] = (
    errors.RateLimitError, errors.UpstreamError, errors.UpstreamUnavailableError, errors.UpstreamTimeoutError)
ELSEWHERE: tuple[type[errors.ModelRuntimeError], ...] = (
    errors.ProviderAuthenticationError, errors.ProviderNotConfiguredError)


class Cooldowns:
    """Recent failures per deployment, and which deployments are resting."""

    def __init__(self, after: int, period_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after, self.period_s, self._clock = after, period_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}

    def failed(self, deployment: str) -> None:
        """Record a failure; the ``after``-th within ``period_s`` starts a cooldown."""
        now = self._clock()
        recent = self._failures.setdefault(deployment, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.period_s:
            recent.popleft()
        if len(recent) >= self.after and self.period_s > 0:
            self._until[deployment] = now + self.period_s
            recent.clear()
            log.warning("deployment %s is cooling down for %gs after %d failures", deployment, self.period_s,
                        self.after)

    def succeeded(self, deployment: str) -> None:
        """A success forgets earlier failures."""
        self._failures.pop(deployment, None)

    def remaining(self, deployment: str) -> float:
        """Seconds of cooldown left; 0 when the deployment may be used."""
        until = self._until.get(deployment)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._until[deployment]
            return 0.0
        return left

    def cooling(self) -> dict[str, float]:
        """Every deployment in cooldown, with the seconds left."""
        return {d: left for d in list(self._until) if (left := self.remaining(d)) > 0}


class Outcome(Generic[T]):
    """What answered: the value, the deployment, and how many attempts it took."""

    __slots__ = ("attempts", "deployment", "value")

    def __init__(self, value: T, deployment: Deployment, attempts: int) -> None:
        self.value, self.deployment, self.attempts = value, deployment, attempts


async def attempt(deployments: list[Deployment], call: Callable[[Deployment], Awaitable[T]], config: RouterConfig,
                  cooldowns: Cooldowns, rng: random.Random | None = None,
                  context_fallbacks: list[Deployment] | None = None,
                  stats: DeploymentStats | None = None) -> Outcome[T]:
    """Call ``deployments`` in order until one answers; raise the last failure when none does.

    A request too long for a deployment (``context_length_exceeded``) goes to ``context_fallbacks`` in order,
    once each, and nowhere else; any other mistake of the request (a content filter included) is final.
    """
    try:
        return await _attempt(deployments, call, config, cooldowns, rng or _RNG, stats)
    except errors.InvalidRequestError as exc:
        if exc.code != "context_length_exceeded" or not context_fallbacks:
            raise
        log.info("request too long for its deployments: trying the context fallbacks")
        last: errors.ModelRuntimeError = exc
        for tried, deployment in enumerate(context_fallbacks, start=1):
            try:
                value = await call(deployment)
            except (*RETRYABLE, *ELSEWHERE, *REQUEST_TOO_LONG) as failure:
                last = failure
                continue
            return Outcome(value, deployment, tried + 1)
        raise last from None


async def _attempt(deployments: list[Deployment], call: Callable[[Deployment], Awaitable[T]], config: RouterConfig,
                   cooldowns: Cooldowns, rng: random.Random, stats: DeploymentStats | None) -> Outcome[T]:
    candidates = deployments
    if len(deployments) > 1:  # a single explicit deployment is always tried: its own error says more than ours
        candidates = [d for d in deployments if not cooldowns.remaining(d.id)]
        if not candidates:
            soonest = math.ceil(min(cooldowns.remaining(d.id) for d in deployments))
            raise errors.UpstreamUnavailableError(
                f"every deployment of this model failed repeatedly and is cooling down; try again in {soonest}s",
                code="deployments_cooling_down", retry_after=soonest)
    given_up: set[str] = set()
    last: errors.ModelRuntimeError | None = None
    began = time.monotonic()
    for attempts in range(config.retries + 1):
        live = [d for d in candidates if d.id not in given_up]
        if not live or (attempts and config.retry_budget_s is not None
                        and time.monotonic() - began >= config.retry_budget_s):
            break
        deployment = live[attempts % len(live)]
        if attempts >= len(live):  # round again: this deployment failed already, give it a moment
            wait = _backoff(config, attempts // len(live), last, rng)
            if wait is None:
                break
            await asyncio.sleep(wait)
        started = time.monotonic()
        if stats is not None:
            stats.began(deployment.id)
        try:
            value = await _first_byte(call(deployment), config, deployment)
        except (*RETRYABLE, *ELSEWHERE) as exc:
            if stats is not None:
                stats.ended(deployment.id, None)
            last = exc
            cooldowns.failed(deployment.id)
            if not isinstance(exc, RETRYABLE):
                given_up.add(deployment.id)
            log.warning("attempt %d at %s failed: %s %s", attempts + 1, deployment.id, exc.status, exc.code)
            continue
        except BaseException:
            if stats is not None:
                stats.ended(deployment.id, None)
            raise
        if stats is not None:
            stats.ended(deployment.id, time.monotonic() - started)
        cooldowns.succeeded(deployment.id)
        return Outcome(value, deployment, attempts + 1)
    if last is None:  # unreachable: the loop runs at least once and only stops early after a failure
        raise errors.InternalError("no deployment was tried")
    raise last


async def _first_byte(answer: Awaitable[T], config: RouterConfig, deployment: Deployment) -> T:
    """``answer`` within ``first_byte_timeout_s`` (when set; the read timeout covers the rest)."""
    limit = config.first_byte_timeout_s
    if limit is None:
        return await answer
    try:
        async with asyncio.timeout(limit):
            return await answer
    except TimeoutError:
        raise errors.UpstreamTimeoutError(f"'{deployment.id}' did not begin to answer within {limit:g}s",
                                          code="first_byte_timeout") from None


def _backoff(config: RouterConfig, round_: int, last: errors.ModelRuntimeError | None,
             rng: random.Random) -> float | None:
    """Seconds to wait before round ``round_`` (1, 2, ...), or None when a Retry-After asks for longer."""
    if last is not None and last.retry_after is not None:
        return last.retry_after if last.retry_after <= config.max_backoff_s else None
    return rng.uniform(0, min(config.max_backoff_s, config.backoff_s * 2 ** (round_ - 1)))
