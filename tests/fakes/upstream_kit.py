"""What the fakes of model servers share: lifecycle, request recording, faults and response plumbing.

`FakeUpstream` is the base of `FakeXinference`, `FakeTEI`, `FakeLlamaCppRerank` (and, through
`retrieval_upstream`, the hosted embedding/rerank fakes): a raw ASGI 3 application
served by `ThreadedASGIServer` on 127.0.0.1:<ephemeral>, a context manager with `start()`/`stop()`, `port`,
`base_url` (the server root, no path), `requests` (every request in order, as `RecordedRequest`), `clear()` and
a count of clients that went away mid-stall or mid-stream (`disconnects`, `wait_for_disconnect`).

A subclass implements `handle(request, exchange)` and raises `HTTPError` (built in its server's own error shape)
to answer with an error. Faults are chosen by a model name, from the request's `model` field or, for routes
without one, from the server-wide `fault` attribute:

* `fault-status-<code>`: that status with the server's real error body for it.
* `fault-stall-<seconds>`: wait, then answer normally (gives up if the client disconnects meanwhile).
* `fault-garbage`: 200 `text/html` that is not JSON.
* `fault-cut-<n>`: only for a fake that lists `cut` in its `fault_kinds` (it streams): n events, then the
  connection drops (`stream(..., cut=n)`).

Also here: multipart/form-data parsing (binary-safe, via the `multipart` package), SSE framing, chunked
streaming that notices a client going away, and the logit used by servers that answer raw reranker scores.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import msgspec
import multipart  # type: ignore[import-untyped]  # the multipart 2.x package ships no type information

from tests.fakes.asgi_server import (
    AbortConnection,
    Receive,
    Scope,
    Send,
    ThreadedASGIServer,
    read_body,
    sleep_unless_disconnected,
    wait_for_disconnect,
)
from tests.fakes.openai_upstream import RecordedRequest

__all__ = [
    "FAULT_KINDS",
    "GARBAGE",
    "JSON",
    "Exchange",
    "FakeUpstream",
    "Fault",
    "FormPart",
    "HTTPError",
    "MultipartError",
    "Request",
    "logit",
    "parse_fault",
    "parse_multipart",
    "sse",
]

JSON = dict[str, Any]
GARBAGE = b"<html>502 Bad Gateway</html>"
_FAULT = re.compile(r"fault-(status|stall|cut)-(\d+(?:\.\d+)?)|fault-(garbage)")
FAULT_KINDS = frozenset({"status", "stall", "garbage"})


# --- faults -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A parsed fault model name: `status` (value = HTTP status), `stall` (value = seconds), `cut` (value =
    events sent before the connection drops) or `garbage`."""

    kind: str
    value: float = 0.0

    @property
    def status(self) -> int:
        return int(self.value)


def parse_fault(model: object, kinds: frozenset[str] = FAULT_KINDS) -> Fault | None:
    """The fault a model name asks for, or None for an ordinary model (or a status outside 400-599, a
    fractional cut, or a kind outside `kinds`)."""
    if not isinstance(model, str):
        return None
    match = _FAULT.fullmatch(model)
    if match is None:
        return None
    fault = Fault("garbage") if match.group(3) else Fault(match.group(1), float(match.group(2)))
    if fault.kind not in kinds:
        return None
    if fault.kind == "status" and (fault.status != fault.value or not 400 <= fault.status <= 599):
        return None
    if fault.kind == "cut" and fault.status != fault.value:
        return None
    return fault


# --- requests and responses ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request as a fake sees it (header names lower-cased, repeated headers joined with ", ")."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.partition(";")[0].strip().lower()

    def recorded(self) -> RecordedRequest:
        return RecordedRequest(self.method, self.path, self.headers, self.body, self.query)


class HTTPError(Exception):
    """A complete error response, in whatever shape the raising server uses."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> HTTPError:
        return cls(status, msgspec.json.encode(payload), "application/json", headers)

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> HTTPError:
        return cls(status, text.encode(), "text/plain; charset=utf-8", headers)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> HTTPError:
        return cls(status, b"", None, headers)


class Exchange:
    """The response side of one HTTP exchange."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send

    async def start(
        self, status: int, content_type: str | None, headers: dict[str, str] | None = None, length: int | None = None
    ) -> None:
        raw = [(b"content-type", content_type.encode())] if content_type else []
        raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if length is not None:
            raw.append((b"content-length", str(length).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    async def body(
        self, status: int, data: bytes, content_type: str | None, headers: dict[str, str] | None = None
    ) -> None:
        await self.start(status, content_type, headers, len(data))
        await self.end(data)

    async def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        await self.body(status, msgspec.json.encode(payload), "application/json", headers)

    async def error(self, err: HTTPError) -> None:
        await self.body(err.status, err.body, err.content_type, err.headers)

    async def garbage(self) -> None:
        await self.body(200, GARBAGE, "text/html; charset=utf-8")


def sse(payload: Any, separator: bytes = b"\n\n") -> bytes:
    """One SSE `data:` event; `payload` is JSON-encoded unless it is already bytes."""
    data = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    return b"data: " + data + separator


def logit(probability: float) -> float:
    """A raw classifier score whose sigmoid is `probability` (clamped away from 0 and 1)."""
    p = min(max(probability, 1e-4), 1.0 - 1e-4)
    return round(math.log(p / (1.0 - p)), 6)


# --- multipart/form-data ------------------------------------------------------------------------


@dataclass(frozen=True)
class FormPart:
    """One part of a multipart/form-data body; `data` holds the exact bytes sent (binary-safe)."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class MultipartError(ValueError):
    """The body is not a valid multipart/form-data stream for its Content-Type."""


def parse_multipart(content_type: str, body: bytes) -> list[FormPart]:
    """The parts of a multipart/form-data body, in order."""
    media_type, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary")
    if media_type != "multipart/form-data" or not boundary:
        raise MultipartError(f"not multipart/form-data with a boundary: {content_type!r}")
    parts: list[FormPart] = []
    segment: Any = None
    chunks: list[bytes] = []
    try:
        with multipart.PushMultipartParser(boundary) as parser:
            for event in [*parser.parse(body), *parser.parse(b"")]:
                if isinstance(event, multipart.MultipartSegment):
                    segment, chunks = event, []
                elif event is None:
                    parts.append(FormPart(segment.name or "", b"".join(chunks), segment.filename, segment.content_type))
                else:
                    chunks.append(bytes(event))
    except multipart.MultipartError as err:
        raise MultipartError(str(err)) from err
    return parts


# --- the base fake ------------------------------------------------------------------------------


@dataclass
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0


class FakeUpstream:
    """Base of the local-server fakes; subclasses implement `handle`."""

    server_name = "fake-upstream"
    fault_kinds = FAULT_KINDS  # a streaming fake adds "cut"

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.fault: str | None = None  # a fault model name applied to every inference request when set
        self._state = _State()
        self._cond = threading.Condition()
        self._server = ThreadedASGIServer(self, name=self.server_name)

    # --- lifecycle and inspection ---------------------------------------------------------------

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._state.requests)

    @property
    def disconnects(self) -> int:
        with self._cond:
            return self._state.disconnects

    def wait_for_disconnect(self, timeout: float = 5.0, count: int = 1) -> bool:
        """True once at least `count` client disconnects (mid-stall or mid-stream) were seen since `clear()`."""
        with self._cond:
            return self._cond.wait_for(lambda: self._state.disconnects >= count, timeout)

    def clear(self) -> None:
        """Forget recorded requests, disconnects, the server-wide fault and any per-server state."""
        with self._cond:
            self._state = _State()
        self.fault = None
        self.reset()

    def reset(self) -> None:
        """Hook for subclasses with state of their own to forget on `clear()`."""

    def _count_disconnect(self) -> None:
        with self._cond:
            self._state.disconnects += 1
            self._cond.notify_all()

    # --- ASGI entry point -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        request = Request(
            str(scope["method"]),
            str(scope["path"]),
            _headers(scope),
            body,
            scope.get("query_string", b"").decode("latin-1"),
        )
        with self._cond:
            self._state.requests.append(request.recorded())
        exchange = Exchange(receive, send)
        try:
            await self.handle(request, exchange)
        except HTTPError as err:
            await exchange.error(err)

    async def handle(self, request: Request, exchange: Exchange) -> None:
        raise NotImplementedError

    # --- helpers for subclasses -----------------------------------------------------------------

    def fault_for(self, model: object) -> Fault | None:
        """The fault named by a request's model, else the server-wide one (`fault`), else None."""
        return parse_fault(model, self.fault_kinds) or parse_fault(self.fault, self.fault_kinds)

    async def stall(self, exchange: Exchange, seconds: float) -> bool:
        """Wait `seconds`; False (and one disconnect counted) if the client went away first."""
        if await sleep_unless_disconnected(exchange.receive, seconds):
            return True
        self._count_disconnect()
        return False

    async def stream(
        self,
        exchange: Exchange,
        content_type: str,
        chunks: Iterable[bytes],
        *,
        headers: dict[str, str] | None = None,
        length: int | None = None,
        delay: float = 0.0,
        cut: int | None = None,
    ) -> None:
        """Send 200 with `chunks` as separate body messages; count a disconnect if the client leaves first.
        With `cut`, drop the connection after that many chunks instead of ending the body."""
        pieces: Sequence[bytes] = list(chunks)
        await exchange.start(200, content_type, headers, length)

        async def produce() -> None:
            for index, piece in enumerate(pieces):
                if cut is not None and index >= cut:
                    break
                if delay and index:
                    await asyncio.sleep(delay)
                await exchange.chunk(piece)
            if cut is not None:
                raise AbortConnection(f"fault-cut: dropped the connection after {cut} chunks")

        if await _race_disconnect(exchange.receive, produce):
            await exchange.end()
        else:
            self._count_disconnect()


async def _race_disconnect(receive: Receive, work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work` while watching for the client going away. False if it went away first."""
    producer = asyncio.ensure_future(work())
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (producer, watcher):
            if not task.done():
                task.cancel()
        await asyncio.gather(producer, watcher, return_exceptions=True)
    if watcher.done() and not watcher.cancelled():
        return False
    producer.result()
    return True


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
