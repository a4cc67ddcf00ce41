"""The cache of upstream model lists: fresh for a while, failures too, one fetch at a time, bounded in time."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import UpstreamConnectionError, UpstreamTimeoutError
from core.runtime import RemoteModels


class Upstream:
    """Counts listings; can fail or hang."""

    def __init__(self, name: str = "local") -> None:
        self.name = name
        self.calls = 0
        self.fail = False
        self.delay = 0.0

    async def remote_models(self) -> list[str]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise UpstreamConnectionError("could not connect to provider instance 'local'")
        return [f"model-{self.calls}"]


async def test_fresh_lists_come_from_the_cache_then_expire() -> None:
    upstream, cache = Upstream(), RemoteModels(ttl_s=0.2)
    assert await cache.get(upstream) == ["model-1"]
    assert await cache.get(upstream) == ["model-1"] and upstream.calls == 1
    await asyncio.sleep(0.25)
    assert await cache.get(upstream) == ["model-2"]


async def test_failures_are_cached_briefly() -> None:
    upstream, cache = Upstream(), RemoteModels(failure_ttl_s=0.2)
    upstream.fail = True
    for _ in range(3):
        with pytest.raises(UpstreamConnectionError):
            await cache.get(upstream)
    assert upstream.calls == 1
    upstream.fail = False
    await asyncio.sleep(0.25)
    assert await cache.get(upstream) == ["model-2"]


async def test_concurrent_misses_fetch_once() -> None:
    upstream, cache = Upstream(), RemoteModels()
    upstream.delay = 0.05
    results = await asyncio.gather(*(cache.get(upstream) for _ in range(10)))
    assert upstream.calls == 1 and all(r == ["model-1"] for r in results)


async def test_a_hanging_upstream_is_bounded() -> None:
    upstream, cache = Upstream(), RemoteModels(timeout_s=0.05)
    upstream.delay = 5
    with pytest.raises(UpstreamTimeoutError, match=r"did not list its models within 0\.05s"):
        await cache.get(upstream)
