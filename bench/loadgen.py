"""The stream timer wrk cannot be: sequential streams on one keep-alive connection; per stream the time to the
first SSE event, the gaps between events as they arrive, and the event count. uvloop + httptools.

    python bench/loadgen.py stream --url URL --body JSON --count 200

Prints one JSON object on stdout. The open-loop fixed-rate client is ``openloop.c``, in C: the protocol wants a
load generator not written in Python, and that one must not eat the cores the system under test needs; its
percentiles are those of ``percentile`` here (nearest rank).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import uvloop

__all__ = ["percentile"]

API_KEY = "sk-bench-key"


def percentile(sorted_values: list[float], pct: float) -> float:
    """The ``pct`` percentile of an ascending list (nearest rank); 0 for an empty list."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def _request(url: str, body: bytes) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n")
    return host, port, head.encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight."""

    def __init__(self, on_done: Callable[[_Connection, float, bool], None],
                 on_body: Callable[[bytes, float], None] | None = None) -> None:
        self.on_done = on_done
        self.on_body_cb = on_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.started = 0.0
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, request: bytes, started: float) -> None:
        self.started = started
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        if self.on_body_cb is not None:
            self.on_body_cb(body, time.perf_counter())

    def on_message_complete(self) -> None:
        ok = self.parser.get_status_code() == 200
        self.on_done(self, time.perf_counter(), ok)


async def _connect(host: str, port: int, on_done: Callable[[_Connection, float, bool], None],
                   on_body: Callable[[bytes, float], None] | None = None) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _Connection(on_done, on_body), host, port)
    return protocol


async def run_stream(url: str, body: bytes, count: int) -> dict[str, Any]:
    """``count`` streams one after another: time to first event, inter-event gaps, events per stream."""
    host, port, request = _request(url, body)
    arrivals: list[float] = []
    buffer = bytearray()
    finished: asyncio.Future[tuple[float, bool]] | None = None

    def on_body(data: bytes, now: float) -> None:
        before = buffer.count(b"\n\n")
        buffer.extend(data)
        arrivals.extend([now] * (buffer.count(b"\n\n") - before))

    def done(conn: _Connection, now: float, ok: bool) -> None:
        if finished is not None and not finished.done():
            finished.set_result((now, ok))

    conn = await _connect(host, port, done, on_body)
    ttfb: list[float] = []
    gaps: list[float] = []
    spreads: list[float] = []
    totals: list[float] = []
    events: list[int] = []
    errors = 0
    loop = asyncio.get_running_loop()
    for _ in range(count):
        arrivals.clear()
        buffer.clear()
        finished = loop.create_future()
        started = time.perf_counter()
        conn.send(request, started)
        end, ok = await asyncio.wait_for(finished, timeout=30)
        if not ok or not arrivals:
            errors += 1
            continue
        ttfb.append((arrivals[0] - started) * 1000)
        gaps.extend((b - a) * 1000 for a, b in itertools.pairwise(arrivals))
        spreads.append((arrivals[-1] - arrivals[0]) * 1000)
        totals.append((end - started) * 1000)
        events.append(len(arrivals))
    if conn.transport is not None:
        conn.transport.close()
    for values in (ttfb, gaps, totals):
        values.sort()
    return {
        "count": count, "errors": errors, "events_per_stream": statistics.median(events) if events else 0,
        "ttfb_ms": {"p50": percentile(ttfb, 50), "p99": percentile(ttfb, 99), "mean": _mean(ttfb)},
        "gap_ms": {"p50": percentile(gaps, 50), "p99": percentile(gaps, 99), "mean": _mean(gaps)},
        "spread_ms": {"mean": _mean(spreads)},
        "total_ms": {"p50": percentile(totals, 50), "p99": percentile(totals, 99)},
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    stream = modes.add_parser("stream")
    stream.add_argument("--count", type=int, default=200)
    stream.add_argument("--url", required=True)
    stream.add_argument("--body", required=True)
    args = parser.parse_args()
    result = uvloop.run(run_stream(args.url, args.body.encode(), args.count))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
