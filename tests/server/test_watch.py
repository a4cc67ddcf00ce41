"""server/routes/_reply.py's Watch: a client that leaves cancels the task it watches, told by the connection or
noticed through ASGI's ``receive``; nothing is cancelled once the watch stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

from server.protocol import CycleConn, _serve
from server.routes._reply import Watch


class _Connection:
    def __init__(self, gone: bool = False) -> None:
        self.gone = gone
        self.callback: Callable[[], object] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def on_leave(self, callback: Callable[[], object]) -> bool:
        if self.gone:
            return False
        self.callback = callback
        return True

    def forget(self, callback: Callable[[], object]) -> None:
        if self.callback == callback:
            self.callback = None

    def lose(self) -> None:
        self.gone = True
        if self.callback is not None:
            self.callback()


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    return {}


async def _watched(departure: _Connection | None, receive: Callable[[], Awaitable[dict[str, Any]]],
                   cancel_first: bool = False) -> bool:
    """Wait under a watch; whether the watch says the client's leaving cancelled the wait."""
    watch = Watch(departure, receive)
    try:
        if cancel_first:
            current = asyncio.current_task()
            assert current is not None
            current.cancel()
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return watch.cancelled_by_leaving()
    finally:
        watch.stop()
    return False


def test_the_connection_telling_cancels_the_watched_task_and_a_stopped_watch_cancels_nothing() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        connection = _Connection()
        task = asyncio.ensure_future(_watched(connection, _never))
        await asyncio.sleep(0.01)
        connection.lose()
        by_leaving = await task
        cleared = connection.callback is None

        quiet = _Connection()
        watch = Watch(quiet, _never)
        watch.stop()
        left_already = Watch(_Connection(gone=True), _never).left
        return by_leaving, cleared, quiet.callback is None and not watch.left, left_already

    assert asyncio.run(scenario()) == (True, True, True, True)


def test_over_asgi_a_task_waits_for_the_disconnect() -> None:
    async def scenario() -> tuple[bool, bool]:
        disconnect = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await disconnect.wait()
            return {"type": "http.disconnect"}

        task = asyncio.ensure_future(_watched(None, receive))
        await asyncio.sleep(0.01)
        disconnect.set()
        by_leaving = await task

        disconnect.clear()
        # a shutdown's or a timeout's cancellation is not the client's
        return by_leaving, await _watched(None, receive, cancel_first=True)

    assert asyncio.run(scenario()) == (True, False)


def test_uvicorns_connection_says_whether_the_client_is_still_there() -> None:
    protocol = type("P", (), {"_left": None, "_lost": False})()
    cycle = type("C", (), {"disconnected": False, "scope": {}, "receive": None})()
    conn = CycleConn(cast(Any, cycle), cast(Any, protocol))
    assert conn.on_leave(print) and protocol._left is print
    conn.forget(input)  # another request's: not touched
    assert protocol._left is print
    conn.forget(print)
    assert protocol._left is None
    protocol._lost = True  # a pipelined request's cycle is not marked, the connection is
    assert not conn.on_leave(print) and protocol._left is None
    protocol._lost, cycle.disconnected = False, True
    assert not conn.on_leave(print) and protocol._left is None


def _pipelined() -> tuple[CycleConn, Any, list[bytes], list[str]]:
    """A connection to an older pipelined request: what it writes, and what its cycle logs as errors."""
    written: list[bytes] = []
    errors: list[str] = []
    protocol = type("P", (), {"_left": None, "_lost": False, "tasks": set(),
                              "loop": property(lambda self: asyncio.get_running_loop())})()
    flow = type("F", (), {"write_paused": False})()
    transport = type("T", (), {"write": staticmethod(written.append), "close": staticmethod(lambda: None)})()
    logger = type("L", (), {"error": staticmethod(lambda message, *args, **kwargs: errors.append(message))})()
    cycle = type("C", (), {"disconnected": False, "scope": {}, "receive": None, "flow": flow, "transport": transport,
                           "keep_alive": True, "default_headers": [], "on_response": staticmethod(lambda: None),
                           "message_event": asyncio.Event(), "response_complete": False, "response_started": False,
                           "logger": logger})()
    return CycleConn(cast(Any, cycle), cast(Any, protocol)), protocol, written, errors


def test_nothing_is_written_for_a_pipelined_request_once_the_connection_is_lost() -> None:
    conn, protocol, written, errors = _pipelined()

    async def answer(conn: CycleConn, found: Any) -> None:
        await conn.begin(200, [(b"content-type", b"text/event-stream")])
        await conn.piece(b"data: 1\n\n")
        protocol._lost = True  # the client left; uvicorn marked only the newest request's cycle
        await conn.piece(b"data: 2\n\n")
        await conn.end()
        await conn.whole(200, [], b"{}")

    asyncio.run(_serve(cast(Any, SimpleNamespace(serve=answer)), conn, cast(Any, None)))
    assert written[0].startswith(b"HTTP/1.1 200 OK\r\n") and written[1:] == [b"9\r\ndata: 1\n\n\r\n"]
    assert errors == []  # an answer cut short by a client that left is not the model call's fault

    conn, protocol, written, errors = _pipelined()

    async def forgets(conn: CycleConn, found: Any) -> None:
        pass

    asyncio.run(_serve(cast(Any, SimpleNamespace(serve=forgets)), conn, cast(Any, None)))
    assert errors == ["A model call returned without completing its response."]
