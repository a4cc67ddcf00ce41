"""One JSON access-log line per request, and a request id on every response (``x-request-id``).

A pure ASGI wrapper around the app, so it costs a clock read, one dict and one encode per request. It logs who
answered (the deployment and attempts the response names), the key's name and the model, never a body: no
prompt, no answer, no key.
An ``x-request-id`` sent by the client (or a proxy) is kept when it is short and plain; otherwise one is made from
a random per-process prefix and a counter (unique across workers and replicas, and no system call per request).

With the configured handler (:class:`JSONLines`, see ``server/cli.py``) the lines skip ``logging.LogRecord`` and go
out together, one write every :data:`FLUSH_S` at most; any other handler gets ordinary records.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from core.errors import StreamAborted
from core.timers import wheel

from .auth import KEY_NAME_STATE, MODEL_STATE

__all__ = ["ASGIApp", "Access", "DropStreamAborted", "JSONLines", "access_log", "flush_access_lines"]

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("model_runtime.access")
_encode = msgspec.json.Encoder().encode
_GOOD_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_WHO = {b"x-model-runtime-deployment": "deployment", b"x-model-runtime-attempts": "attempts"}
_NOTED = (("key", KEY_NAME_STATE), ("model", MODEL_STATE))
"""Access-line fields from ``scope["state"]``, as :mod:`server.metering` and :mod:`server.auth` note them."""
FLUSH_S = 0.05
"""How long an access line may wait to be written with others (a write per loop turn was 3% of chat's CPU)."""
_MAX_PENDING = 1024
_PREFIX = os.urandom(6).hex().encode()
_COUNTER = itertools.count(1)


def _new_prefix() -> None:
    """A forked worker's own prefix and count (the supervisor imported this module before forking)."""
    global _PREFIX, _COUNTER
    _PREFIX, _COUNTER = os.urandom(6).hex().encode(), itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)


def _new_id() -> bytes:
    return b"%s%012x" % (_PREFIX, next(_COUNTER))


class JSONLines(logging.Handler):
    """Access lines to stdout, gathered and written within :data:`FLUSH_S` (on :mod:`core.timers`; at once outside
    a loop; what is left at shutdown when logging closes its handlers)."""

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[bytes] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.write(self.format(record).encode())

    def write(self, line: bytes) -> None:
        """Queue one line (no newline)."""
        self._pending.append(line)
        if len(self._pending) == 1:
            try:
                wheel().call_later(FLUSH_S, self.flush)
            except RuntimeError:
                self.flush()
        elif len(self._pending) >= _MAX_PENDING:  # also when the loop that was to flush them has ended
            self.flush()

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            lines.append(b"")
            data = b"\n".join(lines)
            stream = getattr(sys.stdout, "buffer", None)  # a replaced stdout may take text only
            if stream is None:
                sys.stdout.write(data.decode())
                sys.stdout.flush()
            else:
                stream.write(data)
                stream.flush()

    def close(self) -> None:
        self.flush()
        super().close()


def flush_access_lines() -> None:
    """Write the access lines still waiting for their timer (at shutdown)."""
    for handler in log.handlers:
        handler.flush()


def _direct(logger: logging.Logger) -> JSONLines | None:
    """The logger's only handler when it is a :class:`JSONLines` without filters: lines can skip records."""
    handlers = logger.handlers
    if len(handlers) == 1 and isinstance(handlers[0], JSONLines) and not logger.filters and not handlers[0].filters:
        return handlers[0]
    return None


class Access:
    """One request's access line: its id (also sent back as ``x-request-id``), what the response said, written
    once the request is over (:meth:`write`)."""

    __slots__ = ("id", "line", "started")

    def __init__(self, scope: Scope) -> None:
        given = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
                break
        self.id = given if given and _GOOD_ID.match(given) else _new_id()
        self.line: dict[str, Any] = {"id": self.id.decode(), "method": scope["method"], "path": scope["path"]}
        self.started = time.perf_counter()

    def on_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Note the status and who answered; the headers to send instead (with the request id)."""
        self.line["status"] = status
        for name, value in headers:
            if name in _WHO:
                self.line[_WHO[name]] = value.decode("latin-1")
        return [*headers, (b"x-request-id", self.id)]

    def write(self, scope: Scope) -> None:
        """The line, when INFO is enabled for ``model_runtime.access``."""
        if not log.isEnabledFor(logging.INFO):
            return
        line = self.line
        line["ms"] = round((time.perf_counter() - self.started) * 1000, 3)
        line.setdefault("status", 0)  # the client left before any answer
        state = scope.get("state") or {}
        for field, entry in _NOTED:  # the key's name (never the key) and the model, where the app noted them
            if state.get(entry):
                line[field] = state[entry]
        if (direct := _direct(log)) is not None and direct.level <= logging.INFO:
            direct.write(_encode(line))
        else:
            log.info("%s", _encode(line).decode())


def access_log(app: ASGIApp) -> ASGIApp:
    """Wrap ``app``: request ids on every HTTP response and, when INFO is enabled for ``model_runtime.access``, a
    JSON line per request (unknown routes too). :mod:`server.calls` keeps the lines of the model calls itself,
    with the same :class:`Access`, in the send wrapper it has anyway."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        access = Access(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = access.on_head(message["status"], message.get("headers", []))
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            access.write(scope)

    return wrapped


class DropStreamAborted(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" record for a stream aborted on purpose
    (:class:`core.errors.StreamAborted`), also when Litestar wrapped it (in a task group's exception group, as the
    cause of "Exception caught after response started")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _aborted(record.exc_info[1]))


def _aborted(exc: BaseException | None, depth: int = 0) -> bool:
    if exc is None or depth > 8:
        return False
    if isinstance(exc, StreamAborted):
        return True
    if isinstance(exc, BaseExceptionGroup) and any(_aborted(e, depth + 1) for e in exc.exceptions):
        return True
    return _aborted(exc.__cause__ or exc.__context__, depth + 1)
