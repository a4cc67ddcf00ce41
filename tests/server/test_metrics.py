"""server/metrics.py: what requests record reaches prometheus-client within FLUSH_S (and before a scrape), added up."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import server.metrics
from core.openai.usage import Usage
from server.metrics import Metrics

FLUSH_S = 0.05


@pytest.fixture(autouse=True)
def quick_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.metrics, "FLUSH_S", FLUSH_S)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if family.name.startswith("model_runtime") and "cooldown" not in family.name}


def no_runtime() -> Any:
    """A runtime with no deployment cooling down (all the cooldown collector asks)."""
    return SimpleNamespace(cooldowns=SimpleNamespace(cooling=dict))


def test_recorded_values_are_written_together_within_the_flush_interval() -> None:
    metrics = Metrics(no_runtime)
    route = ("/v1/chat/completions", "m", "d", "200")

    async def requests() -> tuple[float, float, float, float]:
        for _ in range(3):
            metrics.start()
            metrics.answered(*route[:3], 200, 0.02, None, None, None, "")
        metrics.start()  # one still running
        await asyncio.sleep(0)
        soon = samples(metrics).get(("model_runtime_requests_total", _labels(route)), 0.0)
        await asyncio.sleep(FLUSH_S / 2)
        before = samples(metrics).get(("model_runtime_requests_total", _labels(route)), 0.0)
        await asyncio.sleep(FLUSH_S)
        after = samples(metrics)
        return soon, before, after[("model_runtime_requests_total", _labels(route))], \
            after[("model_runtime_in_flight_requests", ())]

    soon, before, after, in_flight = asyncio.run(requests())
    assert (soon, before, after, in_flight) == (0.0, 0.0, 3.0, 1.0)
    counts = samples(metrics)
    assert counts[("model_runtime_request_duration_seconds_count",
                   (("model", "m"), ("route", "/v1/chat/completions")))] == 3.0


def test_an_answer_counts_its_tokens_cost_first_byte_and_error_code() -> None:
    metrics = Metrics(no_runtime)
    metrics.start()
    metrics.start()
    metrics.answered("/v1/chat/completions", "m", "d", 200, 0.5, 0.1, Usage(prompt_tokens=7, completion_tokens=3,
                                                                         total_tokens=10), 0.25, "")
    metrics.answered("/v1/chat/completions", "m", "d", 502, 0.2, None, None, None, "upstream_error")
    counted = samples(metrics)  # no loop: written at once
    assert counted[("model_runtime_tokens_total", (("deployment", "d"), ("kind", "prompt"), ("model", "m")))] == 7
    assert counted[("model_runtime_tokens_total", (("deployment", "d"), ("kind", "completion"), ("model", "m")))] == 3
    assert counted[("model_runtime_cost_total", (("deployment", "d"), ("model", "m")))] == 0.25
    assert counted[("model_runtime_upstream_errors_total",
                    (("code", "upstream_error"), ("route", "/v1/chat/completions"), ("status", "502")))] == 1
    assert counted[("model_runtime_time_to_first_token_seconds_count",
                    (("model", "m"), ("route", "/v1/chat/completions")))] == 1
    assert counted[("model_runtime_request_duration_seconds_sum",
                    (("model", "m"), ("route", "/v1/chat/completions")))] == pytest.approx(0.7)
    assert counted[("model_runtime_in_flight_requests", ())] == 0


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
        await asyncio.sleep(FLUSH_S * 2)

    asyncio.run(turn())
    assert samples(metrics)[("model_runtime_requests_total", _labels(route))] == 1.0
    assert "could not record a metric value" in caplog.text
    asyncio.run(turn())  # a later loop still gets its flush
    assert samples(metrics)[("model_runtime_requests_total", _labels(route))] == 2.0


def test_a_flush_writes_at_once_and_the_next_values_get_a_timer_of_their_own() -> None:
    metrics = Metrics(no_runtime)

    async def scrape_then_more() -> tuple[float, float, float]:
        metrics.add(metrics.rate_limited, 1, "requests")
        metrics.flush()  # what a scrape does first
        scraped = samples(metrics)[("model_runtime_rate_limited_total", (("reason", "requests"),))]
        metrics.add(metrics.rate_limited, 2, "requests")
        await asyncio.sleep(FLUSH_S / 2)
        early = samples(metrics)[("model_runtime_rate_limited_total", (("reason", "requests"),))]
        await asyncio.sleep(FLUSH_S)
        return scraped, early, samples(metrics)[("model_runtime_rate_limited_total", (("reason", "requests"),))]

    assert asyncio.run(scrape_then_more()) == (1.0, 1.0, 3.0)


def test_histogram_values_written_together_read_as_if_observed_one_by_one() -> None:
    values = [0.0001, 0.005, 0.0050001, 0.02, 0.02, 0.5, 1.0, 7.5, 299.0, 301.0, 1e9, 0.0, float("nan"), 1e308,
              1e308, float("inf")]
    batched, one_by_one = Metrics(no_runtime), Metrics(no_runtime)
    for value in values:
        batched.observe(batched.latency, value, "/v1/embeddings", "m")  # no loop: written at once, one by one
    for value in values:
        one_by_one.latency.labels("/v1/embeddings", "m").observe(value)

    async def together() -> None:
        for value in values:
            batched.observe(batched.first_token, value, "/v1/embeddings", "m")
        batched.flush()

    asyncio.run(together())
    for value in values:
        one_by_one.first_token.labels("/v1/embeddings", "m").observe(value)
    def read(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {key: value for key, value in samples(metrics).items() if not key[0].endswith("_created")}

    assert read(batched) == pytest.approx(read(one_by_one), nan_ok=True)
    assert samples(batched)[("model_runtime_time_to_first_token_seconds_count",
                             (("model", "m"), ("route", "/v1/embeddings")))] == len(values) - 1  # not the NaN


def test_a_value_with_wrong_labels_drops_alone_and_values_after_close_are_written_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics(no_runtime)

    async def serve_then_stop() -> tuple[float, float]:
        metrics.add(metrics.rate_limited, 1, "requests", "one label too many")
        metrics.observe(metrics.latency, 0.1, "/v1/embeddings")  # one label too few
        metrics.add(metrics.rate_limited, 1, "tokens")
        metrics.observe(metrics.latency, 0.1, "/v1/embeddings", "m")
        metrics.close()  # the app's shutdown
        written = samples(metrics)[("model_runtime_rate_limited_total", (("reason", "tokens"),))]
        metrics.add(metrics.rate_limited, 1, "tokens")  # a request the shutdown cancelled, settling late
        return written, samples(metrics)[("model_runtime_rate_limited_total", (("reason", "tokens"),))]

    assert asyncio.run(serve_then_stop()) == (1.0, 2.0)
    assert samples(metrics)[("model_runtime_request_duration_seconds_count",
                             (("model", "m"), ("route", "/v1/embeddings")))] == 1.0
    assert caplog.text.count("could not record") == 2
