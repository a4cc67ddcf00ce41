"""``/metrics``: Prometheus counters and histograms (prometheus-client), of all workers.

One registry per app (on ``app.state``, never the library's global one). With several workers the values live in
``$PROMETHEUS_MULTIPROC_DIR`` (set by :mod:`server.workers`) and a scrape adds up every worker's, dead ones'
counters included; the in-flight gauge sums the live workers. What requests record is added up in plain dicts
and written to prometheus-client every :data:`FLUSH_S` seconds, before each scrape and at shutdown
(:meth:`Metrics.flush`): a value in a worker's file costs a lock, a pid check and a pack into the mmap, and a
label child a lookup, so under load a flush writes each counter once for thousands of requests (A/B, 2 workers:
no metrics at all was +10% of chat throughput when they were written once per loop turn). A scrape therefore sees
another worker's last :data:`FLUSH_S` seconds a little later, never wrong. The ``model`` label is the name
clients asked for, so its distinct values are capped (:data:`MAX_MODELS`; more show as ``other``).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
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

from core.openai.usage import Usage
from core.runtime import Runtime

__all__ = ["MAX_MODELS", "Metrics", "metrics"]

log = logging.getLogger("model_runtime")
MAX_MODELS = 500
FLUSH_S = 0.5
"""How long a recorded value may wait before it is written to prometheus-client."""
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
        self._added: dict[tuple[Any, tuple[str, ...]], float] = {}
        self._observed: list[tuple[Any, tuple[str, ...], float]] = []
        self._tallies: dict[tuple[str, str, str, int], _Tally] = {}
        self.running = 0
        """Requests being answered now (:meth:`start`, :meth:`answered`): the in-flight gauge at each flush."""
        self._running_written = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        """The loop the timer is on: one loop at a time (the app's), a closed one replaced on the next value."""
        self._closing = False

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

    def start(self) -> None:
        """A request began (it ends with :meth:`answered`)."""
        self.running += 1
        if self._timer is None or self._timer_loop is None or self._timer_loop.is_closed():
            self._schedule()

    def answered(self, route: str, model: str, deployment: str, status: int, seconds: float,
                 first_byte_s: float | None, usage: Usage | None, cost: float | None, error_code: str) -> None:
        """A request :meth:`start` counted was answered: its count, latency (and time to the first streamed
        byte), tokens, cost and, for a 5xx, its error code; added up by labels now, written at the next flush."""
        self.running -= 1
        tally = self._tallies.get((route, model, deployment, status))
        if tally is None:
            tally = self._tallies[(route, model, deployment, status)] = _Tally()
        tally.count += 1
        tally.latencies.append(seconds)
        if first_byte_s is not None:
            tally.first_bytes.append(first_byte_s)
        if usage is not None:
            tally.prompt += usage.prompt_tokens
            tally.completion += usage.completion_tokens or 0
        if cost:
            tally.cost += cost
        if status >= 500:
            tally.errors[error_code] = tally.errors.get(error_code, 0) + 1
        if self._timer is None or self._timer_loop is None or self._timer_loop.is_closed():
            self._schedule()

    def add(self, metric: Any, amount: float, *labels: str) -> None:
        """Add ``amount`` to a counter or gauge (negative: a gauge going down), within :data:`FLUSH_S`."""
        key = (metric, labels)
        self._added[key] = self._added.get(key, 0.0) + amount
        if self._timer is None or self._timer_loop is None or self._timer_loop.is_closed():
            self._schedule()

    def observe(self, metric: Any, value: float, *labels: str) -> None:
        """Observe ``value`` in a histogram, within :data:`FLUSH_S`."""
        self._observed.append((metric, labels, value))
        if self._timer is None or self._timer_loop is None or self._timer_loop.is_closed():
            self._schedule()

    def flush(self) -> None:
        """Write what was added and observed to prometheus-client (every :data:`FLUSH_S`, before a scrape, at
        shutdown).

        Each value on its own: one that prometheus-client refuses (a counter going down because an upstream
        reported negative tokens) is dropped and logged, the rest still count."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tallies, self._tallies = self._tallies, {}
        if self.running != self._running_written:
            self._running_written = self.running
            self._write(self.in_flight.set, self.running)
        added, self._added = self._added, {}
        observed, self._observed = self._observed, []
        for (metric, labels), amount in added.items():
            if amount:  # an in-flight gauge up and down again in between: nothing to write
                self._increase(metric, labels, amount)
        by_child: dict[tuple[Any, tuple[str, ...]], list[float]] = {}
        for metric, labels, value in observed:
            by_child.setdefault((metric, labels), []).append(value)
        for (route, model, deployment, status), tally in tallies.items():
            self._increase(self.requests, (route, model, deployment, str(status)), tally.count)
            by_child.setdefault((self.latency, (route, model)), []).extend(tally.latencies)
            if tally.first_bytes:
                by_child.setdefault((self.first_token, (route, model)), []).extend(tally.first_bytes)
            if tally.prompt:
                self._increase(self.tokens, (model, deployment, "prompt"), tally.prompt)
            if tally.completion:
                self._increase(self.tokens, (model, deployment, "completion"), tally.completion)
            if tally.cost:
                self._increase(self.cost, (model, deployment), tally.cost)
            for code, count in tally.errors.items():
                self._increase(self.upstream_errors, (route, str(status), code), count)
        for (metric, labels), values in by_child.items():
            try:
                child = self.child(metric, *labels)
            except Exception:
                log.exception("could not record %d values of %r", len(values), metric)
                continue
            _observe_all(child, values)

    def close(self) -> None:
        """At shutdown: write what is pending, and from now on every value at once (a request cancelled by the
        shutdown may still record after this, and no timer would fire any more)."""
        self._closing = True
        self.flush()

    def _increase(self, metric: Any, labels: tuple[str, ...], amount: float) -> None:
        try:
            (self.child(metric, *labels) if labels else metric).inc(amount)
        except Exception:
            log.exception("could not record a metric value (%r)", amount)

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
        if self._closing:
            self.flush()
            return
        self._timer, self._timer_loop = loop.call_later(FLUSH_S, self.flush), loop


class _Tally:
    """What the answers with one set of labels (route, model, deployment, status) came to since the last flush:
    added up as they come, so that a flush writes a few sums instead of going through thousands of answers (a
    pause of milliseconds every :data:`FLUSH_S`, in the tail of the latency)."""

    __slots__ = ("completion", "cost", "count", "errors", "first_bytes", "latencies", "prompt")

    def __init__(self) -> None:
        self.count = self.prompt = self.completion = 0
        self.cost = 0.0
        self.latencies: list[float] = []
        self.first_bytes: list[float] = []
        self.errors: dict[str, int] = {}


def _observe_all(histogram: Any, values: list[float]) -> None:
    """``histogram.observe(v) for v in values``, with one write per bucket and one to the sum: what ``observe``
    does (prometheus-client 0.20-0.26: ``_sum``, and ``_buckets`` by ``_upper_bounds``, ``amount <= bound``),
    without a lock and a loop over the buckets per value. Value by value if the library no longer looks so."""
    bounds, buckets = getattr(histogram, "_upper_bounds", None), getattr(histogram, "_buckets", None)
    if not (isinstance(bounds, list) and isinstance(buckets, list) and len(bounds) == len(buckets)
            and hasattr(histogram, "_sum")):
        for value in values:
            Metrics._write(histogram.observe, value)
        return
    odd = [value for value in values if not math.isfinite(value)]
    if odd:  # NaN goes in no bucket, infinities make the sum what observe() makes it: left to observe()
        for value in odd:
            Metrics._write(histogram.observe, value)
        values = [value for value in values if math.isfinite(value)]
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1  # the first bucket whose bound is >= value (the last: +Inf)
    try:
        histogram._sum.inc(sum(values))
        for bucket, count in zip(buckets, counts, strict=True):
            if count:
                bucket.inc(count)
    except Exception:
        log.exception("could not record %d histogram values", len(values))


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
