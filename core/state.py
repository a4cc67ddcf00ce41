"""The counters behind limits and usage, behind one small interface: :class:`State`.

:class:`MemoryState` keeps them in this process (the default: one worker, or limits per worker). Its methods never
await, so each runs whole between two requests' steps: admission is exact under any concurrency without a lock.
:class:`core.redis_state.RedisState` keeps them in Redis for many replicas.

Per-deployment ``rpm`` / ``tpm`` are read by the router on every request, synchronously, from
:class:`DeploymentLoad` in this process; with Redis it mirrors the shared counters each settlement returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from .limits import WINDOW_S, Admission, DeploymentLimit, KeyPolicy, Settlement, budget_period
from .usage import UsageRow

__all__ = ["DeploymentLoad", "MemoryState", "SharedCooldowns", "State", "Window"]


class SharedCooldowns(Protocol):
    """Deployment cooldowns every replica sees (:class:`core.reliability.Cooldowns` asks it besides its own)."""

    def publish(self, deployment: str, seconds: float) -> None:
        """``deployment`` rests ``seconds`` from now, for every replica (sent in the background)."""
        ...

    def left(self, deployment: str) -> float:
        """Seconds of a cooldown some replica started; 0 when there is none (answered locally)."""
        ...

    def cooling(self) -> list[str]:
        """The deployments some replica put in cooldown, as far as this one knows."""
        ...


class State(Protocol):
    """Where limits, usage and shared cooldowns are kept."""

    load: DeploymentLoad
    cooldowns: SharedCooldowns | None
    """None: cooldowns stay in each process."""

    async def start(self) -> None:
        """Begin background work (at app start-up)."""
        ...

    async def admit(self, key: KeyPolicy) -> Admission:
        """Check ``key``'s windows, parallel calls and budget, and count the request if admitted, atomically."""
        ...

    async def settle(self, key: KeyPolicy, admission: Admission | None, settled: Settlement,
                     deployment: DeploymentLimit | None) -> None:
        """Charge what an admitted call used (tokens, cost, usage; the deployment's windows when it has limits)
        and give back its parallel slot."""
        ...

    async def usage(self) -> list[UsageRow]:
        """Every usage row."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class Window:
    """A fixed window that starts with its first count and lasts ``WINDOW_S``."""

    __slots__ = ("count", "ends")

    def __init__(self, ends: float) -> None:
        self.count, self.ends = 0.0, ends


def _live(windows: dict[str, Window], name: str, now: float) -> Window | None:
    window = windows.get(name)
    if window is not None and window.ends <= now:
        del windows[name]
        return None
    return window


def _charge(windows: dict[str, Window], name: str, amount: float, now: float) -> Window:
    window = _live(windows, name, now)
    if window is None:
        window = windows[name] = Window(now + WINDOW_S)
    window.count += amount
    return window


class DeploymentLoad:
    """Requests and tokens per deployment in the current window, as this process knows them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, Window] = {}
        self._tokens: dict[str, Window] = {}

    def add(self, deployment: str, tokens: int) -> None:
        """Count one finished call of ``deployment``."""
        now = self._clock()
        _charge(self._requests, deployment, 1, now)
        if tokens:
            _charge(self._tokens, deployment, tokens, now)

    def mirror(self, deployment: str, requests: int, tokens: int, left_s: float) -> None:
        """Take the shared counts (from Redis) for the window ending in ``left_s``."""
        ends = self._clock() + max(left_s, 0.0)
        for windows, count in ((self._requests, requests), (self._tokens, tokens)):
            window = windows[deployment] = Window(ends)
            window.count = count

    def busy_for(self, deployment: str, limit: DeploymentLimit) -> float:
        """Seconds until ``deployment`` is under its limits again; 0 when it is now."""
        now = self._clock()
        for windows, most in ((self._requests, limit.rpm), (self._tokens, limit.tpm)):
            window = _live(windows, deployment, now) if most else None
            if window is not None and window.count >= most:
                return window.ends - now
        return 0.0


class MemoryState:
    """Counters in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.load = DeploymentLoad(clock)
        self.cooldowns: SharedCooldowns | None = None
        self._requests: dict[str, Window] = {}
        self._tokens: dict[str, Window] = {}
        self._running: dict[str, int] = {}
        self._spent: dict[tuple[str, str], float] = {}
        self._usage: dict[tuple[str, str, str], UsageRow] = {}

    async def admit(self, key: KeyPolicy) -> Admission:
        now = self._clock()
        name = key.name
        requests = _live(self._requests, name, now)
        tokens = _live(self._tokens, name, now)
        running = self._running.get(name, 0)
        answer = Admission(requests_left=key.rpm - int(requests.count if requests else 0),
                           tokens_left=key.tpm - int(tokens.count if tokens else 0),
                           requests_reset_s=requests.ends - now if requests else 0.0,
                           tokens_reset_s=tokens.ends - now if tokens else 0.0)
        if key.rpm and answer.requests_left <= 0:
            answer.reason, answer.retry_after_s = "requests", answer.requests_reset_s
        elif key.tpm and answer.tokens_left <= 0:
            answer.reason, answer.retry_after_s = "tokens", answer.tokens_reset_s
        elif key.max_parallel and running >= key.max_parallel:
            answer.reason, answer.retry_after_s = "parallel", 1.0
        elif key.budget:
            period, left_s = budget_period(key.budget_period)
            if self._spent.get((name, period), 0.0) >= key.budget:
                answer.reason, answer.retry_after_s = "budget", left_s
        if answer.reason:
            return answer
        if key.rpm:
            window = _charge(self._requests, name, 1, now)
            answer.requests_left, answer.requests_reset_s = key.rpm - int(window.count), window.ends - now
        if key.max_parallel:
            self._running[name] = running + 1
            answer.held = True
        return answer

    async def settle(self, key: KeyPolicy, admission: Admission | None, settled: Settlement,
                     deployment: DeploymentLimit | None) -> None:
        name = key.name
        if admission is not None and admission.held:
            self._running[name] -= 1
        if key.tpm and settled.tokens:
            _charge(self._tokens, name, settled.tokens, self._clock())
        if key.budget and settled.cost:
            period = budget_period(key.budget_period)[0]
            self._spent[(name, period)] = self._spent.get((name, period), 0.0) + settled.cost
        row_key = (settled.key, settled.model, settled.deployment)
        row = self._usage.get(row_key)
        if row is None:
            row = self._usage[row_key] = UsageRow(key=settled.key, model=settled.model,
                                                  deployment=settled.deployment)
        row.add(settled)
        if deployment is not None and settled.deployment:
            self.load.add(settled.deployment, settled.tokens)

    async def start(self) -> None:
        return None

    async def usage(self) -> list[UsageRow]:
        return list(self._usage.values())

    async def aclose(self) -> None:
        return None
