"""Serve a raw ASGI 3 application with uvicorn in a daemon thread, for tests.

`ThreadedASGIServer` binds 127.0.0.1 on an ephemeral port, runs `uvicorn.Server` on its own asyncio
event loop in a background thread, and blocks in `start()` until the socket is accepting connections.
`stop()` asks uvicorn to shut down gracefully (in-flight requests get a short grace period, then are
cancelled) and joins the thread, so no loop, socket or thread outlives the test that owned it.

Helpers shared by fakes built on top of it:

* `AbortConnection`: raise it from an app after `http.response.start` to drop the TCP connection
  without finishing the response (no terminating zero-length chunk, short Content-Length body).
  uvicorn would log such an exception with a traceback; the harness filters exactly those records.
* `read_body`, `wait_for_disconnect`, `sleep_unless_disconnected`: small ASGI receive-side utilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AbortConnection(Exception):
    """Raised by an app to make the server close the connection mid-response."""


class _DropAbortConnectionRecords(logging.Filter):
    """Hide uvicorn's "Exception in ASGI application" record when the exception is a deliberate abort."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        return not (exc_info and isinstance(exc_info[1], AbortConnection))


_ABORT_FILTER = _DropAbortConnectionRecords()


def _install_abort_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if _ABORT_FILTER not in logger.filters:
        logger.addFilter(_ABORT_FILTER)


async def read_body(receive: Receive) -> bytes | None:
    """Read the whole request body; None if the client disconnected first."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the client has gone away (call only after the request body was read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def sleep_unless_disconnected(receive: Receive, seconds: float) -> bool:
    """Sleep for `seconds`; return False early if the client disconnects meanwhile."""
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        if not watcher.done():
            await _cancel(watcher)
    return not done


class ThreadedASGIServer:
    """A uvicorn server for one ASGI app, running on 127.0.0.1:<ephemeral> in a daemon thread."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        http: Literal["h11", "httptools"] = "h11",
        name: str = "asgi-test-server",
        graceful_shutdown_seconds: int = 1,
    ) -> None:
        self._app = app
        self._http = http
        self._name = name
        self._graceful = graceful_shutdown_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server is not running")
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self._app,
            host=self.host,
            port=0,
            http=self._http,
            ws="none",
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            log_config=None,  # do not reconfigure the process-wide logging tree
            access_log=False,
            timeout_graceful_shutdown=self._graceful,
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and block until the listening socket is bound."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        _install_abort_filter()
        server = uvicorn.Server(self._config())
        thread = threading.Thread(target=server.run, name=self._name, daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        self._wait_started(server, thread, timeout)
        self._port = int(server.servers[0].sockets[0].getsockname()[1])

    def _wait_started(self, server: uvicorn.Server, thread: threading.Thread, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                self._server = self._thread = None
                raise RuntimeError(f"{self._name}: uvicorn exited during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self._name}: not serving after {timeout}s")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut uvicorn down and join its thread. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None
        if thread.is_alive():
            raise RuntimeError(f"{self._name}: server thread did not stop")
