"""uvicorn's httptools protocol: the model calls served without ASGI, and every response's head written with its
body.

The model calls (:class:`server.calls.ModelCalls`) are most of the traffic, and uvicorn's ASGI cycle (the
messages, ``send``'s state machine, the wrappers each layer puts around ``send``) cost about a third of a fast
call's CPU. So the protocol hands them to the app as they are (:meth:`~server.calls.ModelCalls.serve`) with a
:class:`CycleConn`, which writes to the connection what uvicorn's ``RequestResponseCycle.send`` would: the same
status line, default headers (``date``, ``server``), header checks, ``connection: close``, chunked framing, flow
control and keep-alive, in one write per complete answer. uvicorn still parses the request, reads the body
(``receive``) and manages the connection. Every other request goes through ASGI as before.

For those:
uvicorn writes the status line and headers as soon as the app sends ``http.response.start``, and the body when it
sends ``http.response.body``: two writes (two ``send`` calls, two TCP segments, two wake-ups of the client) for
every JSON answer, about 5% of a fast call's CPU. Here each response's transport holds a head that declares a
``content-length`` (the body follows at once) and writes it together with the first body piece. Heads of streamed
responses (chunked) and interim ``100 Continue`` lines go out at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from core.timers import Deadline, wheel

if TYPE_CHECKING:
    from .calls import Found, Headers, ModelCalls, Scope

__all__ = ["UVICORN_VERSIONS", "CycleConn", "HeadWithBody", "HttpProtocol"]

UVICORN_VERSIONS = ("0.54",)
"""The uvicorn releases (major.minor) whose ``HttpToolsProtocol`` and ``RequestResponseCycle`` this module was
written and tested against; :func:`server.cli.http_protocol` serves over plain ASGI under any other."""


class HeadWithBody:
    """One response's view of the connection's transport (see the module's docstring)."""

    __slots__ = ("_held", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._waiting = True  # for this response's head

    def write(self, data: bytes) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.writelines((held, data))
            return
        if self._waiting and data.startswith(b"HTTP/1.1 ") and data[9:10] != b"1":  # not a 1xx interim line
            self._waiting = False
            if b"\r\ncontent-length: " in data:
                self._held = data
                return
        self._transport.write(data)

    def close(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """Give to uvicorn as ``http``."""

    _idle: Deadline
    _left: Callable[[], object] | None = None
    """What to call if the client leaves (:meth:`CycleConn.on_leave`)."""
    _lost = False
    """The connection is gone (uvicorn marks only its newest request's cycle ``disconnected``; a pipelined one
    being answered is not)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle = wheel(self.loop).deadline(self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        self._idle.close()
        left, self._left = self._left, None
        if left is not None:
            left()

    def _unset_keepalive_if_required(self) -> None:
        self._idle.disarm()

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timeout a :class:`~core.timers.Deadline` of the connection: it is set
        after each response and lifted by the next request, a libuv timer each time otherwise."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle.arm(self.timeout_keep_alive)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        calls = _model_calls(app)
        found = None
        if calls is not None and cycle.scope["method"] != "HEAD":  # HEAD (a 405) through ASGI: no body then
            found = calls.find(cast("Scope", cycle.scope))
        if calls is not None and found is not None:
            # The task takes itself out of `tasks` as it ends (_serve): a done callback would cost each request one
            # more turn of the loop, with its epoll_wait system call, after the answer is out.
            task = self.loop.create_task(_serve(calls, CycleConn(cycle, self), found))
            if not task.done():  # an eager task factory (Python 3.12+) may have run it to its end already
                self.tasks.add(task)
            return
        if cycle.scope["method"] != "HEAD":  # uvicorn writes no body for HEAD: nothing would send the head
            cycle.transport = HeadWithBody(cycle.transport)  # type: ignore[assignment]
        super()._start_asgi_task(cycle, app)


_found: dict[int, tuple[Any, ModelCalls | None]] = {}


def _model_calls(app: Any) -> ModelCalls | None:
    """The :class:`ModelCalls` uvicorn's app is, or wraps (its proxy-headers middleware keeps it as ``app``).

    :mod:`server.calls` is imported here, not with this module: the supervisor imports this module before it
    sets up the workers' shared metrics, which must come before prometheus-client's first import."""
    known = _found.get(id(app))
    if known is not None and known[0] is app:
        return known[1]
    from .calls import ModelCalls

    inner, calls = app, None
    for _ in range(4):
        if isinstance(inner, ModelCalls):
            calls = inner
            break
        inner = getattr(inner, "app", None)
    _found[id(app)] = app, calls
    return calls


async def _serve(calls: ModelCalls, conn: CycleConn, found: Found) -> None:
    """What ``RequestResponseCycle.run_asgi`` does around an app, around :meth:`ModelCalls.serve`. It must be its
    task's own coroutine: it takes that task out of uvicorn's task set as it ends."""
    cycle = conn.cycle
    try:
        await calls.serve(conn, found)
    except BaseException as exc:
        cycle.logger.error("Exception in a model call\n", exc_info=exc)
        if not cycle.response_started:
            await cycle.send_500_response()
        else:
            cycle.transport.close()
    else:
        # not expected: serve() always answers, unless the client left (an older pipelined request's cycle is not
        # marked disconnected: the connection is)
        if not (cycle.response_complete or conn.gone):
            cycle.logger.error("A model call returned without completing its response.")
            cycle.transport.close()
    finally:
        conn.protocol.tasks.discard(asyncio.current_task(conn.loop))
        cycle.on_response = lambda: None


class CycleConn:
    """A model call's response written straight to uvicorn's connection (see the module's docstring); the
    connection tells when the client leaves (:meth:`on_leave`)."""

    __slots__ = ("cycle", "protocol", "receive", "scope")

    def __init__(self, cycle: RequestResponseCycle, protocol: HttpProtocol) -> None:
        self.cycle, self.protocol = cycle, protocol
        self.scope: Any = cycle.scope
        self.receive: Any = cycle.receive

    @property
    def departure(self) -> CycleConn:
        """Itself (a property: an attribute would be a reference cycle, left to the garbage collector)."""
        return self

    def body_in(self) -> bytes | None:
        """The body as uvicorn's ``receive`` would give it, once all of it is in (it usually came with the head),
        without ``receive``'s two coroutines and message."""
        cycle = self.cycle
        if cycle.more_body or cycle.disconnected or cycle.response_complete or cycle.waiting_for_100_continue:
            return None
        body = bytes(cycle.body)
        cycle.body = bytearray()
        cycle.message_event.clear()
        cycle.flow.resume_reading()
        return body

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop = self.protocol.loop
        return loop

    @property
    def gone(self) -> bool:
        """Whether the client left: uvicorn marks only its newest cycle ``disconnected``, the connection knows for an
        older pipelined one too."""
        return self.cycle.disconnected or self.protocol._lost

    def on_leave(self, callback: Callable[[], object]) -> bool:
        """:class:`server.routes._reply.Departure`'s: the connection calls ``callback`` when it is lost."""
        if self.gone:
            return False
        self.protocol._left = callback
        return True

    def forget(self, callback: Callable[[], object]) -> None:
        if self.protocol._left == callback:  # == : a bound method is made anew at each access
            self.protocol._left = None

    async def whole(self, status: int, headers: Headers, body: bytes) -> None:
        cycle = self.cycle
        # rare: only then the _open() coroutine
        if (cycle.flow.write_paused or self.gone) and not await self._open():
            return
        cycle.transport.write(self._head(status, headers, b"\r\n", body))
        self._complete()

    async def begin(self, status: int, headers: Headers) -> None:
        if await self._open():
            self.cycle.transport.write(self._head(status, headers, b"transfer-encoding: chunked\r\n\r\n"))

    async def piece(self, data: bytes) -> None:
        if data and await self._open():
            self.cycle.transport.write(b"".join((b"%x\r\n" % len(data), data, b"\r\n")))

    async def end(self) -> None:
        if await self._open():
            self.cycle.transport.write(b"0\r\n\r\n")
            self._complete()

    async def _open(self) -> bool:
        """Whether the client is still there (:attr:`gone`), once the transport takes more (uvicorn's flow
        control)."""
        cycle = self.cycle
        if cycle.flow.write_paused and not self.gone:
            await cycle.flow.drain()
        return not self.gone

    def _head(self, status: int, headers: Headers, *rest: bytes) -> bytes:
        cycle = self.cycle
        cycle.response_started = True
        cycle.waiting_for_100_continue = False
        content = [STATUS_LINE[status]]
        for name, value in (*cycle.default_headers, *headers):
            content += (name, b": ", value, b"\r\n")
        # uvicorn's checks, one search over all names and one over all values (each matches a single byte)
        if HEADER_RE.search(b"".join(content[1::4])) or HEADER_VALUE_RE.search(b"".join(content[3::4])):
            raise RuntimeError("Invalid HTTP header.")
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        content += rest
        return b"".join(content)

    def _complete(self) -> None:
        cycle = self.cycle
        cycle.response_complete = True
        cycle.message_event.set()
        if not cycle.keep_alive:
            cycle.transport.close()
        cycle.on_response()
