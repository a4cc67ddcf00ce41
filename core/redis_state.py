"""The :class:`~core.state.State` of many replicas: counters in Redis, each step one Lua script.

Admission is one round trip (``EVALSHA``): the script reads the key's windows, parallel count and budget, and
counts the request only if every one allows it, so replicas never admit more than the limit between them. The
settlement after a call is a second script (tokens, cost, usage row, parallel slot, the deployment's window).

A short local cache answers a key that was just refused for a window (rpm, tpm, budget) without asking Redis
again until that window ends or a second passes, whichever is first: it can only repeat a true refusal.

When Redis fails or does not answer within ``state.timeout_s``, ``state.on_error`` decides: ``open`` admits the
request unmetered, ``closed`` answers 503. Either way Redis is left alone for ``state.retry_s`` afterwards, so a
dead Redis costs requests nothing but a clock read. Nothing waits on Redis longer than ``timeout_s``.

Cooldowns are shared off the request path: a replica that rests a deployment writes its end time to a hash in
the background, and every replica reads that hash once a second (:class:`SharedRedisCooldowns`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from .errors import UpstreamUnavailableError
from .limits import WINDOW_S, Admission, DeploymentLimit, KeyPolicy, Reason, Settlement, budget_period
from .server_config import StateConfig
from .state import DeploymentLoad, SharedCooldowns
from .usage import UsageRow

__all__ = ["RedisState", "SharedRedisCooldowns"]

log = logging.getLogger("model_runtime")
PREFIX = "mr:"
DENIAL_CACHE_S = 1.0
PARALLEL_TTL_MS = 600_000
"""A parallel count not touched for ten minutes expires: a replica that died mid-call does not hold its slots."""
_SEP = "\x1f"

# KEYS: requests window, tokens window, parallel count, spend of the period
# ARGV: rpm, tpm, max_parallel, budget (0: unlimited), window ms, parallel ttl ms
_ADMIT = """
local rpm, tpm, par, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
local reason, wait, held = '', 0, 0
if rpm > 0 and used >= rpm then reason, wait = 'requests', redis.call('PTTL', KEYS[1])
elseif tpm > 0 and tokens >= tpm then reason, wait = 'tokens', redis.call('PTTL', KEYS[2])
elseif par > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= par then reason, wait = 'parallel', 1000
elseif budget > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= budget then
  reason, wait = 'budget', redis.call('PTTL', KEYS[4])
end
if reason == '' then
  if rpm > 0 then
    used = redis.call('INCR', KEYS[1])
    if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
  end
  if par > 0 then
    redis.call('INCR', KEYS[3])
    redis.call('PEXPIRE', KEYS[3], ARGV[6])
    held = 1
  end
end
return {reason, used, tokens, wait, redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]), held}
"""

# KEYS: tokens window, parallel count, spend of the period, usage row, usage index, deployment window
# ARGV: tokens, cost, window ms, held, prompt, completion, error, row name, spend ttl ms, charge tokens, budgeted
_SETTLE = """
local tokens, cost = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[4] == '1' and redis.call('DECR', KEYS[2]) < 0 then redis.call('SET', KEYS[2], 0) end
if ARGV[10] == '1' and tokens > 0 then
  redis.call('INCRBY', KEYS[1], tokens)
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
end
if ARGV[11] == '1' and cost > 0 then
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[2])
  if redis.call('PTTL', KEYS[3]) < 0 then redis.call('PEXPIRE', KEYS[3], ARGV[9]) end
end
redis.call('HINCRBY', KEYS[4], 'requests', 1)
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[4], 'errors', 1) end
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[4], 'prompt_tokens', ARGV[5]) end
if tonumber(ARGV[6]) > 0 then redis.call('HINCRBY', KEYS[4], 'completion_tokens', ARGV[6]) end
if cost > 0 then redis.call('HINCRBYFLOAT', KEYS[4], 'cost', ARGV[2]) end
redis.call('SADD', KEYS[5], ARGV[8])
if KEYS[6] == '' then return {} end
local r = redis.call('HINCRBY', KEYS[6], 'r', 1)
local t = redis.call('HINCRBY', KEYS[6], 't', tokens)
if redis.call('PTTL', KEYS[6]) < 0 then redis.call('PEXPIRE', KEYS[6], ARGV[3]) end
return {r, t, redis.call('PTTL', KEYS[6])}
"""


class RedisState:
    """Counters shared by every replica through one Redis."""

    def __init__(self, config: StateConfig, clock: Any = time.monotonic) -> None:
        self.config, self._clock = config, clock
        self.load = DeploymentLoad(clock)
        self._redis = aioredis.Redis.from_url(
            config.url, socket_timeout=config.timeout_s, socket_connect_timeout=config.timeout_s,
            retry=Retry(NoBackoff(), 0), health_check_interval=0, decode_responses=True)
        self._admit = self._redis.register_script(_ADMIT)
        self._settle = self._redis.register_script(_SETTLE)
        self._down_until = 0.0
        self._denied: dict[str, tuple[float, Admission]] = {}
        self._cooldowns = SharedRedisCooldowns(self._redis, config.timeout_s)
        self.cooldowns: SharedCooldowns | None = self._cooldowns

    async def start(self) -> None:
        self._cooldowns.start()

    async def admit(self, key: KeyPolicy) -> Admission:
        now = self._clock()
        cached = self._denied.get(key.name)
        if cached is not None:
            if cached[0] > now:
                return cached[1]
            del self._denied[key.name]
        spend = self._spend_key(key) if key.budget else ""
        reply = await self._run(self._admit, [_k("rpm", key.name), _k("tpm", key.name), _k("par", key.name),
                                              spend],
                                [key.rpm, key.tpm, key.max_parallel, key.budget, int(WINDOW_S * 1000),
                                 PARALLEL_TTL_MS])
        if reply is None:  # fail open: unmetered
            return Admission(requests_left=key.rpm, tokens_left=key.tpm)
        reason, used, tokens, wait_ms, rpm_ms, tpm_ms, held = reply
        answer = Admission(reason=_reason(reason), requests_left=key.rpm - int(used),
                           tokens_left=key.tpm - int(tokens), retry_after_s=max(int(wait_ms), 0) / 1000,
                           requests_reset_s=max(int(rpm_ms), 0) / 1000, tokens_reset_s=max(int(tpm_ms), 0) / 1000,
                           held=bool(held))
        if answer.reason and answer.reason != "parallel" and answer.retry_after_s > 0:
            self._denied[key.name] = (now + min(answer.retry_after_s, DENIAL_CACHE_S), answer)
        return answer

    async def settle(self, key: KeyPolicy, admission: Admission | None, settled: Settlement,
                     deployment: DeploymentLimit | None) -> None:
        row = _SEP.join((settled.key, settled.model, settled.deployment))
        spend_key, spend_ttl_ms = "", 0
        if key.budget:
            spend_key = self._spend_key(key)
            spend_ttl_ms = int((budget_period(key.budget_period)[1] + 86400) * 1000)
        counts_deployment = deployment is not None and bool(settled.deployment)
        reply = await self._run(
            self._settle,
            [_k("tpm", key.name), _k("par", key.name), spend_key, _k("usage", row), _k("usage-index", ""),
             _k("dep", settled.deployment) if counts_deployment else ""],
            [settled.tokens, repr(settled.cost), int(WINDOW_S * 1000), int(bool(admission and admission.held)),
             settled.prompt_tokens, settled.completion_tokens, int(settled.error), row, spend_ttl_ms,
             int(bool(key.tpm)), int(bool(key.budget))],
            settling=True)
        if reply:
            requests, tokens, left_ms = (int(v) for v in reply)
            self.load.mirror(settled.deployment, requests, tokens, left_ms / 1000)

    async def usage(self) -> list[UsageRow]:
        names = cast(list[str], list(await self._redis.smembers(_k("usage-index", ""))))
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(_k("usage", name))
            values = await pipe.execute()
        rows = []
        for name, fields in zip(names, values, strict=True):
            key, model, deployment = [*name.split(_SEP), "", "", ""][:3]
            rows.append(UsageRow(key=key, model=model, deployment=deployment,
                                 requests=int(fields.get("requests", 0)), errors=int(fields.get("errors", 0)),
                                 prompt_tokens=int(fields.get("prompt_tokens", 0)),
                                 completion_tokens=int(fields.get("completion_tokens", 0)),
                                 cost=float(fields.get("cost", 0.0))))
        return rows

    async def aclose(self) -> None:
        await self._cooldowns.aclose()
        await self._redis.aclose()

    def _spend_key(self, key: KeyPolicy) -> str:
        return _k("spend", f"{key.name}{_SEP}{budget_period(key.budget_period)[0]}")

    async def _run(self, script: Any, keys: list[str], args: list[Any], settling: bool = False) -> Any:
        """Run a script within ``timeout_s``; on failure apply ``on_error`` (None: carry on unmetered)."""
        now = self._clock()
        if now >= self._down_until:
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    return await script(keys=keys, args=args)
            except (RedisError, OSError, TimeoutError) as exc:
                self._down_until = now + self.config.retry_s
                log.warning("state %s failed (%s); %s for %gs", "Redis", type(exc).__name__,
                            "requests pass unmetered" if self.config.on_error == "open" else "requests get 503",
                            self.config.retry_s)
        if settling or self.config.on_error == "open":
            return None
        raise UpstreamUnavailableError("The gateway cannot check rate limits right now; try again shortly.",
                                       code="state_unavailable", retry_after=max(self.config.retry_s, 1.0))


def _k(kind: str, name: str) -> str:
    return f"{PREFIX}{kind}:{name}"


def _reason(value: str) -> Reason:
    match value:
        case "requests" | "tokens" | "parallel" | "budget":
            return value
    return ""


class SharedRedisCooldowns:
    """Deployment cooldowns in the hash ``mr:cooldowns`` (deployment → end, Unix ms), mirrored here."""

    KEY = f"{PREFIX}cooldowns"

    def __init__(self, redis: aioredis.Redis, timeout_s: float, poll_s: float = 1.0) -> None:
        self._redis, self._timeout_s, self._poll_s = redis, timeout_s, poll_s
        self._ends: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None

    def publish(self, deployment: str, seconds: float) -> None:
        end = time.time() + seconds
        self._ends[deployment] = max(self._ends.get(deployment, 0.0), end)
        task = asyncio.get_running_loop().create_task(self._write(deployment, end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def left(self, deployment: str) -> float:
        end = self._ends.get(deployment)
        return max(end - time.time(), 0.0) if end is not None else 0.0

    def cooling(self) -> list[str]:
        now = time.time()
        return [d for d, end in self._ends.items() if end > now]

    def start(self) -> None:
        """Read the shared cooldowns every ``poll_s`` from now on."""
        if self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def aclose(self) -> None:
        """Stop reading and writing."""
        tasks = [*self._tasks, *([self._poller] if self._poller is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None

    async def _write(self, deployment: str, end: float) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._redis.hset(self.KEY, deployment, str(int(end * 1000)))
        except (RedisError, OSError, TimeoutError):
            pass  # the cooldown still holds here; the others will not see it

    async def _poll(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._timeout_s):
                    shared = cast(dict[str, str], await self._redis.hgetall(self.KEY))
            except (RedisError, OSError, TimeoutError):
                shared = {}
            now = time.time()
            ends = {d: int(v) / 1000 for d, v in shared.items()}
            for deployment, end in self._ends.items():
                ends[deployment] = max(ends.get(deployment, 0.0), end)
            self._ends = {d: end for d, end in ends.items() if end > now}
            expired = [d for d, end in ends.items() if end <= now and d in shared]
            if expired:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(self._timeout_s):
                        await self._redis.hdel(self.KEY, *expired)
            await asyncio.sleep(self._poll_s)
