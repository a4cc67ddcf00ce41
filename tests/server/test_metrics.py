"""server/metrics.py: what requests record reaches prometheus-client by the end of the loop turn, added up."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from server.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if family.name.startswith("model_runtime") and "cooldown" not in family.name}


def no_runtime() -> Any:
    """A runtime with no deployment cooling down (all the cooldown collector asks)."""
    return SimpleNamespace(cooldowns=SimpleNamespace(cooling=dict))


def test_recorded_values_are_written_once_per_loop_turn() -> None:
    metrics = Metrics(no_runtime)
    route = ("/v1/chat/completions", "m", "d", "200")

    async def requests() -> tuple[float, float, float]:
        for _ in range(3):
            metrics.add(metrics.in_flight, 1)
            metrics.add(metrics.requests, 1, *route)
            metrics.observe(metrics.latency, 0.02, route[0], "m")
            metrics.add(metrics.in_flight, -1)
        before = samples(metrics).get(("model_runtime_requests_total", _labels(route)), 0.0)
        metrics.add(metrics.in_flight, 1)  # one still running at the end of the turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        after = samples(metrics)
        return before, after[("model_runtime_requests_total", _labels(route))], \
            after[("model_runtime_in_flight_requests", ())]

    before, after, in_flight = asyncio.run(requests())
    assert (before, after, in_flight) == (0.0, 3.0, 1.0)
    counts = samples(metrics)
    assert counts[("model_runtime_request_duration_seconds_count",
                   (("model", "m"), ("route", "/v1/chat/completions")))] == 3.0


def test_without_a_loop_values_are_written_at_once() -> None:
    metrics = Metrics(no_runtime)
    metrics.add(metrics.rate_limited, 1, "requests")
    assert samples(metrics)[("model_runtime_rate_limited_total", (("reason", "requests"),))] == 1.0


def _labels(route: tuple[str, str, str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(zip(("route", "model", "deployment", "status"), route, strict=True)))


def test_a_value_prometheus_refuses_drops_alone(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics(no_runtime)
    route = ("/v1/chat/completions", "m", "d", "200")

    async def turn() -> None:
        metrics.add(metrics.tokens, -5, "m", "d", "prompt")  # an upstream's negative count: a counter cannot go down
        metrics.add(metrics.requests, 1, *route)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(turn())
    assert samples(metrics)[("model_runtime_requests_total", _labels(route))] == 1.0
    assert "could not record a metric value" in caplog.text
    asyncio.run(turn())  # a later loop still gets its flush
    assert samples(metrics)[("model_runtime_requests_total", _labels(route))] == 2.0
