"""A lean pooled HTTP/1.1 client for the hot path: asyncio protocols and httptools' parser, nothing more.

aiohttp costs a third of a proxied call's CPU here (bench/PROFILE.md): per request it builds a ``ClientRequest``
and a ``ClientResponse``, multidicts for the headers, timers and trace hooks, and a task to write the body. This
client writes the request head and body in one ``transport.write``, parses the answer with httptools (the C
parser uvicorn uses) and hands the body over as it arrives, with a read timeout between pieces.

Connections are kept alive per upstream, reused newest first, and dropped after ``keepalive_s`` idle or when the
server closes them. A request that fails on a reused connection before any byte of the answer came back (the
server closed it as it was being reused) is sent once more on a new connection. Failures raise httpx's exception
classes, as the aiohttp path does, so the providers' error maps see one vocabulary.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

from .timers import wheel

__all__ = ["Pool", "WireResponse"]

_STALE_WINDOW_S = 0.1
"""A reused connection lost this soon after the request was written, with no answer: the server had closed it as
it was being reused, and the request is sent again on a new one. Later, it may have taken the request in (a
worker that died mid-generation): then it is an error, never a second generation."""
_PAUSE_AT = 1 << 20
"""Stop reading from the upstream while this much of an answer waits for the caller; resume when it is taken."""


class Pool:
    """Keep-alive connections to one ``scheme://host:port``."""

    def __init__(self, scheme: str, host: str, port: int, *, connect_timeout_s: float,
                 keepalive_s: float = 30.0) -> None:
        self.host, self.port = host, port
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if scheme == "https" else None
        self._connect_timeout_s, self._keepalive_s = connect_timeout_s, keepalive_s
        self._idle: list[_Connection] = []
        self._closed = False
        default = 443 if scheme == "https" else 80
        self.authority = (host if port == default else f"{host}:{port}").encode("idna")

    async def request(self, head: bytes, body: bytes | None, read_timeout_s: float) -> WireResponse:
        """Send ``head`` (request line and headers, ending with the blank line) and ``body``; the answer once its
        headers are in."""
        message = head + body if body else head
        connection = self._reusable()
        if connection is not None:
            try:
                return await connection.exchange(message, read_timeout_s)
            except _Stale:
                pass  # closed under us before answering: once more on a new connection
        connection = await self._connect()
        try:
            return await connection.exchange(message, read_timeout_s)
        except _Stale as exc:
            raise httpx.RemoteProtocolError("the server closed the connection without answering") from exc

    def _reusable(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now - self._keepalive_s):
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        if self._closed:
            raise httpx.LocalProtocolError("this upstream client is closed")  # a retired runtime's stray caller
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {self.host}:{self.port} within "
                                       f"{self._connect_timeout_s:g}s") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from exc
        return connection

    def release(self, connection: _Connection) -> None:
        """A connection whose answer was read to the end, ready for the next request."""
        if self._closed:
            connection.close()
            return
        now = time.monotonic()
        connection.idle_since = now
        self._idle.append(connection)
        while self._idle and not self._idle[0].usable(now - self._keepalive_s):  # the oldest: expired or closed
            self._idle.pop(0).close()

    def close(self) -> None:
        """Close every idle connection and refuse new ones (busy ones close when their answer is done)."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()


class _Stale(Exception):
    """A reused connection failed before any byte of the answer arrived."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()  # once: Python 3.11 makes a getpid system call to find it
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[None] | None = None
        """What the read timeout (:attr:`timeout`) ends: the wait for the head or the next piece of the answer."""
        self.timeout = wheel(self.loop).deadline(self._timed_out)
        self.parser = httptools.HttpResponseParser(self)
        self.response: WireResponse | None = None
        self.headers_in: asyncio.Future[None] | None = None
        self.used = False
        self.received = False
        self.idle_since = 0.0
        self.paused = False
        self.failed = False
        self.written_at = 0.0
        self._headers: list[tuple[bytes, bytes]] = []
        self._framed = False
        self._interim = False

    def usable(self, fresh_after: float) -> bool:
        return self.transport is not None and not self.transport.is_closing() and self.idle_since > fresh_after

    async def exchange(self, message: bytes, read_timeout_s: float) -> WireResponse:
        reused, self.used, self.received = self.used, True, False
        if self.transport is None:  # lost between connect (or release) and this request
            if reused:
                raise _Stale
            raise httpx.RemoteProtocolError("the server closed the connection at once")
        self._headers, self._framed, self._interim = [], False, False
        self.response = response = WireResponse(self, read_timeout_s)
        loop = self.loop
        self.headers_in = loop.create_future()
        self.written_at = loop.time()
        self.transport.write(message)
        try:
            await response.wait(self.headers_in)
        except httpx.TransportError as exc:
            self.close()
            if (reused and not self.received and not isinstance(exc, httpx.TimeoutException)
                    and loop.time() - self.written_at < _STALE_WINDOW_S):
                raise _Stale from exc
            raise
        except BaseException:
            self.close()
            raise
        return response

    def close(self) -> None:
        self.timeout.close()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def _timed_out(self) -> None:
        waiting, response = self.waiting, self.response
        if waiting is not None and not waiting.done() and response is not None:
            waiting.set_exception(httpx.ReadTimeout(f"no data from the upstream for {response.read_timeout_s:g}s"))

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if self.response is None or self.failed or self.response.complete:  # nothing asked: the server talks out
            # of turn (bytes after a complete answer, or on an idle connection): not a connection to trust
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.timeout.close()
        response = self.response
        if response is not None and not response.complete and not self.failed:
            if exc is None and self.headers_in is not None and self.headers_in.done() and not self._framed:
                response.finish(False)  # no length, not chunked: the body ends with the connection
            elif exc is None:
                self._fail(httpx.RemoteProtocolError("the server closed the connection in the middle of the answer"))
            else:
                self._fail(httpx.ReadError(f"the connection broke: {exc}"))
        # The parser and the answer refer back to this connection: without them it is freed when its last user
        # lets go, not by the garbage collector (uvicorn drops its parser the same way).
        self.response = None
        self.parser = None  # type: ignore[assignment]

    def pause_writing(self) -> None:  # requests are written in one piece; nothing to hold back
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers_in is not None and not self.headers_in.done():  # chunked trailers come later: not kept
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.response is not None and self.headers_in is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            self._interim = True
            self._headers = []
            return
        self.response.status_code = status
        self.response.raw_headers = self._headers
        for name, value in self._headers:
            lower = name.lower()
            if lower == b"content-length" or (lower == b"transfer-encoding" and b"chunked" in value.lower()):
                self._framed = True
        if not self.headers_in.done():
            self.headers_in.set_result(None)

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response.feed(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        if self._interim:
            self._interim = False
            return
        self.response.finish(self.parser.should_keep_alive())

    def _fail(self, error: httpx.TransportError) -> None:
        self.failed = True
        self.close()
        if self.headers_in is not None and not self.headers_in.done():
            self.headers_in.set_exception(error)
        elif self.response is not None and not self.response.complete:
            self.response.fail(error)


class WireResponse:
    """An answer whose headers are in: the body is read whole or piece by piece, as it arrives.

    Closing it before the end drops the connection (the upstream sees the client go); after the end the
    connection returns to the pool when the server allows.
    """

    def __init__(self, connection: _Connection, read_timeout_s: float) -> None:
        self._connection = connection
        self.read_timeout_s = read_timeout_s
        self.status_code = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._headers: httpx.Headers | None = None
        self._pieces: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: httpx.TransportError | None = None
        self._keep_alive = False
        self.complete = False
        self._released = False

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        if self._headers is None:
            self._headers = httpx.Headers(self.raw_headers)
        return self._headers

    @property
    def content_type(self) -> str:
        """The ``content-type`` header, or ``""``."""
        for name, value in self.raw_headers:
            if name.lower() == b"content-type":
                return value.decode("latin-1")
        return ""

    async def aread(self) -> bytes:
        """The whole body."""
        if self.complete and self._error is None:  # all in already (most answers that fit a few packets)
            return self._take() if self._pieces else b""
        return b"".join([piece async for piece in self.aiter_bytes()])

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives: all that has come in since the last piece, as one piece; what arrived before a
        failure is still handed over."""
        while True:
            if self._pieces:  # everything that has arrived, as one piece: one write onwards, not one per chunk
                yield self._take()
                continue  # more may have come in while the caller had it
            if self._error is not None:
                raise self._error
            if self.complete:
                return
            waiter = self._connection.loop.create_future()
            self._waiter = waiter
            try:
                await self.wait(waiter)
            finally:
                self._waiter = None

    def _take(self) -> bytes:
        """Everything that has arrived, as one piece; reading resumes if it was paused."""
        piece = self._pieces.popleft() if len(self._pieces) == 1 else b"".join(self._pieces)
        self._pieces.clear()
        self._buffered = 0
        if self._connection.paused:
            self._resume()
        return piece

    aiter_raw = aiter_bytes
    """The same: bodies are asked for and passed on without content encoding."""

    async def aclose(self) -> None:
        """Return the connection to the pool when the answer was read to the end, else drop it."""
        if self._released:
            return
        self._released = True
        connection = self._connection
        if (self.complete and self._keep_alive and self._error is None and connection.transport is not None
                and not connection.paused):  # a connection whose reading is paused would hang its next answer
            connection.response = None
            connection.pool.release(connection)
        else:
            connection.close()

    async def wait(self, future: asyncio.Future[None]) -> None:
        """Wait for ``future`` at most the read timeout."""
        connection = self._connection
        connection.waiting = future
        connection.timeout.arm(self.read_timeout_s)
        try:
            await future
        finally:
            if connection.waiting is future:  # not a later wait's (the connection may have been reused since)
                connection.timeout.disarm()
                connection.waiting = None

    # fed by the connection

    def feed(self, piece: bytes) -> None:
        self._pieces.append(piece)
        self._buffered += len(piece)
        if self._buffered > _PAUSE_AT and not self._connection.paused and self._connection.transport is not None:
            self._connection.paused = True
            self._connection.transport.pause_reading()
        self._wake()

    def finish(self, keep_alive: bool) -> None:
        self.complete, self._keep_alive = True, keep_alive
        self._wake()

    def fail(self, error: httpx.TransportError) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _resume(self) -> None:
        self._connection.paused = False
        if self._connection.transport is not None:
            self._connection.transport.resume_reading()

