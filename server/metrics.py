"""``/metrics``: Prometheus counters and histograms (prometheus-client), of all workers.

One registry per app (on ``app.state``, never the library's global one). With several workers the values live in
``$PROMETHEUS_MULTIPROC_DIR`` (set by :mod:`server.workers`) and a scrape adds up every worker's, dead ones'
counters included; the in-flight gauge sums the live workers. Label children are looked up once and
kept, and what requests record is added up in plain dicts and written to prometheus-client once per event-loop
turn (:meth:`Metrics.flush`): a value in a worker's file costs a lock, a pid check and a pack into the mmap, and
under load a turn finishes many requests with the same labels. The ``model`` label is the name clients asked
for, so its distinct values are capped (:data:`MAX_MODELS`; more show as ``other``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from core.runtime import Runtime

__all__ = ["MAX_MODELS", "Metrics", "metrics"]

log = logging.getLogger("model_runtime")
MAX_MODELS = 500
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """What the gateway counts."""

    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("model_runtime_requests", "Requests by API route, model, deployment and status.",
                                ["route", "model", "deployment", "status"], registry=registry)
        self.latency = Histogram("model_runtime_request_duration_seconds", "Time to the last byte of the answer.",
                                 ["route", "model"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.first_token = Histogram("model_runtime_time_to_first_token_seconds",
                                     "Streams: time to the first event after the request arrived.",
                                     ["route", "model"], buckets=_LATENCY_BUCKETS, registry=registry)
        self.tokens = Counter("model_runtime_tokens", "Tokens reported by responses.",
                              ["model", "deployment", "kind"], registry=registry)
        self.cost = Counter("model_runtime_cost", "Cost of the answers, in the models' pricing currency.",
                            ["model", "deployment"], registry=registry)
        self.upstream_errors = Counter("model_runtime_upstream_errors", "Answers with a 5xx status, by error code.",
                                       ["route", "status", "code"], registry=registry)
        self.rate_limited = Counter("model_runtime_rate_limited", "Requests refused by a key's limits.",
                                    ["reason"], registry=registry)
        self.in_flight = Gauge("model_runtime_in_flight_requests", "Requests being answered now.",
                               registry=registry, multiprocess_mode="livesum")
        self.cooldowns = _Cooldowns(runtime)
        registry.register(self.cooldowns)
        self._children: dict[tuple[Any, ...], Any] = {}
        self._models: set[str] = set()
        self._added: dict[Any, float] = {}
        self._observed: list[tuple[Any, float]] = []
        self._scheduled: asyncio.AbstractEventLoop | None = None
        """The loop a flush is due on (a loop closed before running it does not stop later flushes)."""

    def model(self, name: str) -> str:
        """The label for a client-chosen model name (capped cardinality)."""
        if name in self._models:
            return name
        if len(self._models) < MAX_MODELS:
            self._models.add(name)
            return name
        return "other"

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def add(self, metric: Any, amount: float, *labels: str) -> None:
        """Add ``amount`` to a counter or gauge (negative: a gauge going down), by the end of this loop turn."""
        child = self.child(metric, *labels) if labels else metric
        self._added[child] = self._added.get(child, 0.0) + amount
        self._schedule()

    def observe(self, metric: Any, value: float, *labels: str) -> None:
        """Observe ``value`` in a histogram, by the end of this loop turn."""
        self._observed.append((self.child(metric, *labels), value))
        self._schedule()

    def flush(self) -> None:
        """Write what was added and observed to prometheus-client (before a scrape, and once per loop turn).

        Each value on its own: one that prometheus-client refuses (a counter going down because an upstream
        reported negative tokens) is dropped and logged, the rest of the turn's still count."""
        self._scheduled = None
        added, self._added = self._added, {}
        observed, self._observed = self._observed, []
        for child, amount in added.items():
            if amount:  # an in-flight gauge up and down again within the turn: nothing to write
                self._write(child.inc, amount)
        for child, value in observed:
            self._write(child.observe, value)

    @staticmethod
    def _write(record: Callable[[float], None], value: float) -> None:
        try:
            record(value)
        except Exception:
            log.exception("could not record a metric value (%r)", value)

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test, a script): now
            self.flush()
            return
        if self._scheduled is not loop:
            loop.call_soon(self.flush)
            self._scheduled = loop


class _Cooldowns(Collector):
    """Deployments cooling down now, read at scrape time."""

    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("model_runtime_deployment_cooldown_seconds",
                                   "Seconds of cooldown left per deployment (absent: not cooling down).",
                                   labels=["deployment"])
        for deployment, left in self._runtime().cooldowns.cooling().items():
            family.add_metric([deployment], left)
        yield family


@get("/metrics", opt={"public": True}, include_in_schema=False)
async def metrics(request: Request[Any, Any, State]) -> Response[bytes]:
    """The Prometheus text format (scraped without a key, like the health routes)."""
    found: Metrics = request.app.state.metrics
    found.flush()
    registry = found.registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # every worker's values, read from their files
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(found.cooldowns)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
