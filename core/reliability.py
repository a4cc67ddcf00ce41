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
Failures are counted per worker process; a cooldown, once started, is shared with every replica when the state is
Redis (:class:`core.state.SharedCooldowns`).
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
from .state import SharedCooldowns

__all__ = ["Cooldowns", "Outcome", "attempt"]

log = logging.getLogger("model_runtime")
T = TypeVar("T")

_RNG = random.Random()
FAILURE_PENALTY_S = 5.0
RETRYABLE: tuple[type[errors.ModelRuntimeError], ...] = (
    errors.RateLimitError, errors.UpstreamError, errors.UpstreamUnavailableError, errors.UpstreamTimeoutError)
ELSEWHERE: tuple[type[errors.ModelRuntimeError], ...] = (
    errors.ProviderAuthenticationError, errors.ProviderAccountError, errors.ProviderNotConfiguredError)
UNABLE = frozenset({"unsupported_parameter", "unsupported_value", "unsupported_model_endpoint"})
"""Codes of a request a deployment cannot serve as asked (``n`` > 1 from Anthropic, ``logprobs`` from Gemini, a
chat model asked for a text completion): the next candidate may, and this one has not failed."""


class Cooldowns:
    """Recent failures per deployment, and which deployments are resting."""

    def __init__(self, after: int, period_s: float, clock: Callable[[], float] = time.monotonic,
                 shared: SharedCooldowns | None = None) -> None:
        self.after, self.period_s, self._clock, self.shared = after, period_s, clock, shared
        self._failures: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}

    def failed(self, deployment: str, retry_after: float | None = None) -> None:
        """Record a failure; the ``after``-th within ``period_s`` starts a cooldown, and so does a ``Retry-After``
        (the upstream said when to come back: the deployment rests that long)."""
        now = self._clock()
        before = self._until.get(deployment)
        if retry_after is not None and retry_after > 0:
            self._until[deployment] = max(self._until.get(deployment, now), now + retry_after)
        recent = self._failures.setdefault(deployment, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.period_s:
            recent.popleft()
        if len(recent) >= self.after and self.period_s > 0:
            self._until[deployment] = now + self.period_s
            recent.clear()
            log.warning("deployment %r is cooling down for %gs after %d failures", deployment, self.period_s,
                        self.after)
        until = self._until.get(deployment)
        if self.shared is not None and until is not None and until != before:
            self.shared.publish(deployment, until - now)

    def succeeded(self, deployment: str) -> None:
        """A success forgets earlier failures."""
        self._failures.pop(deployment, None)

    def remaining(self, deployment: str) -> float:
        """Seconds of cooldown left; 0 when the deployment may be used."""
        elsewhere = self.shared.left(deployment) if self.shared is not None else 0.0
        until = self._until.get(deployment)
        if until is None:
            return elsewhere
        left = until - self._clock()
        if left <= 0:
            del self._until[deployment]
            return elsewhere
        return max(left, elsewhere)

    def cooling(self) -> dict[str, float]:
        """Every deployment in cooldown, with the seconds left."""
        names = [*self._until, *(self.shared.cooling() if self.shared is not None else ())]
        return {d: left for d in dict.fromkeys(names) if (left := self.remaining(d)) > 0}


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

    Every candidate is tried once, then up to ``retries`` more attempts go round those that may still answer,
    with backoff, all within ``retry_budget_s``. A request too long for a deployment (``context_length_exceeded``)
    goes to ``context_fallbacks`` in order, once each. A request a deployment cannot serve as asked (:data:`UNABLE`)
    goes to the next candidate, and its refusal is the answer if none can; any other mistake of the request
    (content filters included) is final. Cooldowns and statistics are kept only where there is a choice (several
    candidates), so names a client makes up never accumulate state.
    """
    tracked = len(deployments) > 1
    run: _Run[T] = _Run(call, config, cooldowns if tracked else None, stats if tracked else None, rng or _RNG)
    try:
        if len(deployments) != 1 or run.deadline is not None or config.first_byte_timeout_s is not None:
            return await run.through(run.usable(deployments))
        return await run.alone(deployments[0])
    except errors.InvalidRequestError as exc:
        if exc.code != "context_length_exceeded" or not context_fallbacks:
            raise
        log.info("request too long for its deployments: trying the context fallbacks")
        return await run.through(context_fallbacks, retries=0)


class _Run(Generic[T]):
    """One request's attempts: their count, the time they may take, the deployments given up on."""

    def __init__(self, call: Callable[[Deployment], Awaitable[T]], config: RouterConfig, cooldowns: Cooldowns | None,
                 stats: DeploymentStats | None, rng: random.Random) -> None:
        self.call, self.config, self.cooldowns, self.stats, self.rng = call, config, cooldowns, stats, rng
        self.attempts = 0
        self.deadline = None if config.retry_budget_s is None else time.monotonic() + config.retry_budget_s

    def usable(self, deployments: list[Deployment]) -> list[Deployment]:
        if self.cooldowns is None:
            return deployments
        candidates = [d for d in deployments if not self.cooldowns.remaining(d.id)]
        if not candidates:
            soonest = math.ceil(min(self.cooldowns.remaining(d.id) for d in deployments))
            raise errors.UpstreamUnavailableError(
                f"every deployment of this model failed repeatedly and is cooling down; try again in {soonest}s",
                code="deployments_cooling_down", retry_after=soonest)
        return candidates

    async def alone(self, deployment: Deployment) -> Outcome[T]:
        """The usual case, one deployment and no time limits: its first attempt called straight, without what
        several candidates need (two coroutine frames and their bookkeeping); the retries only if it fails."""
        self.attempts = 1
        try:
            return Outcome(await self.call(deployment), deployment, 1)
        except (*RETRYABLE, *ELSEWHERE) as exc:
            self._failed(deployment, exc)
            if isinstance(exc, ELSEWHERE):
                raise  # nowhere else to go
            failed = exc
        # out of the except block: the retries' own failures must not carry the first one as their context
        return await self._again([deployment], {deployment.id: failed}, failed, self.config.retries)

    async def through(self, candidates: list[Deployment], retries: int | None = None) -> Outcome[T]:
        last: errors.ModelRuntimeError | None = None
        failures: dict[str, errors.ModelRuntimeError] = {}  # the deployments that may answer if asked again
        unable: errors.InvalidRequestError | None = None  # the first refusal of the request as asked
        for deployment in candidates:
            if self._out_of_time():
                break
            try:
                return await self._one(deployment)
            except (*RETRYABLE, *ELSEWHERE) as exc:
                last = exc
                if not isinstance(exc, ELSEWHERE):
                    failures[deployment.id] = exc
            except errors.InvalidRequestError as exc:
                if exc.code not in UNABLE:
                    raise
                log.info("%r cannot serve the request as asked (%s): trying the next", deployment.id, exc.param)
                unable = unable or exc
        return await self._again(candidates, failures, last or unable,
                                 self.config.retries if retries is None else retries)

    async def _again(self, candidates: list[Deployment], failures: dict[str, errors.ModelRuntimeError],
                     last: errors.ModelRuntimeError | None, retries: int) -> Outcome[T]:
        """Up to ``retries`` more attempts, round the ``candidates`` that ``failures`` says may still answer;
        ``last`` is raised if none does."""
        again = [d for d in candidates if d.id in failures]
        for round_ in range(1, retries + 1):
            if not again or self._out_of_time():
                break
            deployment = again[(round_ - 1) % len(again)]
            # The wait is this deployment's: its own Retry-After, or backoff for how often it has been asked.
            wait = _backoff(self.config, (round_ - 1) // len(again) + 1, failures[deployment.id], self.rng)
            if wait is None or (self.deadline is not None and time.monotonic() + wait >= self.deadline):
                break
            await asyncio.sleep(wait)
            try:
                return await self._one(deployment)
            except (*RETRYABLE, *ELSEWHERE) as exc:
                last = failures[deployment.id] = exc
                if isinstance(exc, ELSEWHERE):
                    again.remove(deployment)
        if last is None:
            raise errors.UpstreamTimeoutError("no deployment could be tried within router.retry_budget_s",
                                              code="retry_budget_exhausted")
        raise last

    def _out_of_time(self) -> bool:
        return self.attempts > 0 and self.deadline is not None and time.monotonic() >= self.deadline

    async def _one(self, deployment: Deployment) -> Outcome[T]:
        self.attempts += 1
        started = time.monotonic()
        if self.stats is not None:
            self.stats.began(deployment.id)
        try:
            if self.config.first_byte_timeout_s is None and self.deadline is None:
                value = await self.call(deployment)
            else:
                value = await self._in_time(self.call(deployment), deployment)
        except (*RETRYABLE, *ELSEWHERE) as exc:
            if self.stats is not None:  # a failure counts as a slow answer, so `fastest` moves away from it
                self.stats.ended(deployment.id, time.monotonic() - started + FAILURE_PENALTY_S)
            self._failed(deployment, exc)
            raise
        except BaseException:
            if self.stats is not None:
                self.stats.ended(deployment.id, None)
            raise
        if self.stats is not None:
            self.stats.ended(deployment.id, time.monotonic() - started)
        if self.cooldowns is not None:
            self.cooldowns.succeeded(deployment.id)
        return Outcome(value, deployment, self.attempts)

    def _failed(self, deployment: Deployment, exc: errors.ModelRuntimeError) -> None:
        if self.cooldowns is not None:
            self.cooldowns.failed(deployment.id, exc.retry_after)
        log.warning("attempt %d at %r failed: %s %s", self.attempts, deployment.id, exc.status, exc.code)

    async def _in_time(self, answer: Awaitable[T], deployment: Deployment) -> T:
        """``answer`` within ``first_byte_timeout_s`` and what is left of ``retry_budget_s`` (when set)."""
        limits = [limit for limit in (self.config.first_byte_timeout_s,
                                      None if self.deadline is None else self.deadline - time.monotonic())
                  if limit is not None]
        if not limits:
            return await answer
        limit = max(0.0, min(limits))
        try:
            async with asyncio.timeout(limit):
                return await answer
        except TimeoutError:
            raise errors.UpstreamTimeoutError(f"{deployment.id!r} did not begin to answer within {limit:.3g}s",
                                              code="first_byte_timeout") from None


def _backoff(config: RouterConfig, round_: int, last: errors.ModelRuntimeError | None,
             rng: random.Random) -> float | None:
    """Seconds to wait before round ``round_`` (1, 2, ...), or None when a Retry-After asks for longer."""
    if last is not None and last.retry_after is not None:
        return last.retry_after if last.retry_after <= config.max_backoff_s else None
    return rng.uniform(0, min(config.max_backoff_s, config.backoff_s * 2 ** (round_ - 1)))
