"""server/metering.py's Observed: a request is settled once, and counted out of flight however it ends."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from core.limits import KeyPolicy
from core.state import MemoryState
from server.calls import ROUTES
from server.metering import METERED, Meter, Observed
from server.metrics import Metrics
from server.tracing import Tracing

KEY = KeyPolicy(name="k", max_parallel=1, limited=True)


def observed(state: Any, admission: Any) -> Observed:
    runtime: Any = SimpleNamespace(router=SimpleNamespace(deployment_limits={}))
    meter = Meter(state, Metrics(lambda: runtime), Tracing())
    scope = {"path_template": "/v1/chat/completions", "state": {}}
    return Observed(meter, scope, KEY, admission, runtime)


def test_a_parallel_slot_is_given_back_once_even_if_a_body_follows_the_settlement() -> None:
    async def scenario() -> int:
        state = MemoryState()
        one = observed(state, await state.admit(KEY))
        one.open()
        one.on_head(500, [(b"content-type", b"application/json")])
        await one.close()  # settled: the slot is free
        await one.on_body(b'{"error": {}}', False)  # an error body written after (a failure while replying)
        return state._running["k"]

    assert asyncio.run(scenario()) == 0


class _Stuck(MemoryState):
    async def settle(self, *args: Any) -> None:
        await asyncio.sleep(3600)


def test_a_request_whose_settlement_is_cancelled_leaves_the_in_flight_count() -> None:
    async def scenario() -> int:
        state = _Stuck()
        one = observed(state, await state.admit(KEY))
        one.open()
        closing = asyncio.ensure_future(one.close())
        await asyncio.sleep(0.01)
        closing.cancel()  # a shutdown's cancellation
        await asyncio.gather(closing, return_exceptions=True)
        return one.meter.metrics.running

    assert asyncio.run(scenario()) == 0


def test_every_model_call_route_is_metered() -> None:
    assert all(path.endswith(METERED) for path in ROUTES)  # limits count it, usage records it
