"""The model calls with JSON bodies, answered in front of Litestar: the routes that carry the traffic.

``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/responses``, ``/v1/embeddings``, ``/v1/rerank``,
``/v1/moderations``, their ``/{provider}/v1/...`` twins (Chatchat's routes) and ``/rerank``, ``/v2/rerank``
(Cohere's and Jina's clients). Per request (:meth:`ModelCalls.serve`): the route by dictionary lookup, keys and
limits (:func:`server.metering.admit`), the body read whole up to ``server.max_body_bytes``, the endpoint, and the
:class:`~server.routes._reply.Reply` written to a :class:`Conn`, the metering and the access line noting what
passes; errors leave as OpenAI's body (:func:`server.errors.error_parts`). Under uvicorn with
:mod:`server.protocol` the connection is uvicorn's own (no ASGI messages); under any other server, ASGI's
``receive`` and ``send`` (:class:`ASGIConn`). Litestar's routing, signature model, response objects and exception
middleware cost about a third of a fast call's CPU, and none of them does anything here. Every other path, and the
audio uploads (multipart forms), go on to Litestar.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol, cast

from litestar import Litestar, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Stream

from core.errors import (
    ClientClosedRequest,
    InternalError,
    MethodNotAllowedError,
    ModelRuntimeError,
    PayloadTooLargeError,
)

from .access import Access, access_log
from .errors import error_parts, log_error
from .metering import Observed, admit
from .routes import moderations, openai, rerank, responses
from .routes._reply import Departure, Exchange, Reply, Req, Watch, to_response

__all__ = ["ROUTES", "ASGIConn", "Conn", "ModelCalls", "documented"]

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Endpoint = Callable[[Exchange, str | None, bytes], Awaitable[Reply]]
Headers = list[tuple[bytes, bytes]]
Found = tuple[str, str, str | None, Endpoint]
"""A model call's path (as Litestar routes it), route template, provider (``/{provider}/v1``) and endpoint."""

log = logging.getLogger("model_runtime")

ROUTES: dict[str, Endpoint] = {
    "/chat/completions": openai.chat,
    "/completions": openai.complete,
    "/embeddings": openai.embed,
    "/rerank": rerank.rerank,
    "/moderations": moderations.moderate,
    "/responses": responses.respond,
}
"""Path endings under ``/v1`` and ``/{provider}/v1``."""
_ROOT: dict[str, Endpoint] = {"/rerank": rerank.rerank, "/v2/rerank": rerank.rerank}
_TEMPLATES = {rest: (f"/v1{rest}", f"/{{provider}}/v1{rest}") for rest in ROUTES}
"""Route names for metrics and spans, as Litestar spells path templates (``Route.path_format``)."""


def _path(scope: Scope) -> str:
    """The path as Litestar routes it: without the ``root_path`` uvicorn put in front, nor a trailing slash."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def _route(path: str) -> tuple[str, str | None, Endpoint] | None:
    """``(template, provider, endpoint)`` for a model-call path (see :func:`_path`); ``None`` for any other."""
    if path.startswith("/v1/"):
        rest = path[3:]
        endpoint = ROUTES.get(rest)
        return (_TEMPLATES[rest][0], None, endpoint) if endpoint is not None else None
    endpoint = _ROOT.get(path)
    if endpoint is not None:
        return path, None, endpoint
    slash = path.find("/", 1)
    if slash > 1 and path.startswith("/v1/", slash):
        rest = path[slash + 3:]
        endpoint = ROUTES.get(rest)
        if endpoint is not None:
            return _TEMPLATES[rest][1], path[1:slash], endpoint
    return None


def documented(under: str) -> list[HTTPRouteHandler]:
    """Litestar handlers of the same routes, for a Router at ``under`` (``/v1``, ``/{provider:str}/v1`` or ``/``),
    so that the OpenAPI schema lists them; requests through :class:`ModelCalls` never reach them, but they would
    answer the same."""
    if under == "/":
        return [_handler(path, endpoint, "root") for path, endpoint in _ROOT.items()]
    where = "provider" if under.startswith("/{provider") else "v1"
    return [_handler(path, endpoint, where) for path, endpoint in ROUTES.items()]


def _handler(path: str, endpoint: Endpoint, where: str) -> HTTPRouteHandler:
    async def of_provider(request: Req, provider: FromPath[str]) -> Response[bytes] | Stream:
        return to_response(await endpoint(Exchange.of(request), provider, await request.body()))

    async def of_any(request: Req) -> Response[bytes] | Stream:
        return to_response(await endpoint(Exchange.of(request), None, await request.body()))

    handler = of_provider if where == "provider" else of_any
    handler.__doc__ = endpoint.__doc__
    name = f"{where}_{path.strip('/').replace('/', '_')}"
    return post(path, status_code=200, name=name, operation_id=name)(handler)


class Conn(Protocol):
    """One model call's HTTP exchange as :class:`ModelCalls` writes it: over ASGI (:class:`ASGIConn`), or straight
    to uvicorn's connection (:class:`server.protocol.CycleConn`). ``receive`` is ASGI's, for the request body and
    to notice a client that leaves where there is no ``departure`` to tell."""

    scope: Scope
    receive: Receive

    @property
    def departure(self) -> Departure | None: ...

    def body_in(self) -> bytes | None:
        """The whole request body if it has arrived already; ``None`` when ``receive`` is to read it."""

    async def whole(self, status: int, headers: Headers, body: bytes) -> None:
        """A complete response (``headers`` declare the ``content-length``)."""

    async def begin(self, status: int, headers: Headers) -> None:
        """The head of a response whose body follows in :meth:`piece` calls (chunked)."""

    async def piece(self, data: bytes) -> None: ...

    async def end(self) -> None:
        """The streamed body is complete."""


class ASGIConn:
    """:class:`Conn` over ASGI's ``receive`` and ``send`` (a client that leaves is noticed by ``receive``)."""

    __slots__ = ("receive", "scope", "send")
    departure: Departure | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive, self.send = scope, receive, send

    def body_in(self) -> None:
        return None

    async def whole(self, status: int, headers: Headers, body: bytes) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def begin(self, status: int, headers: Headers) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def piece(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


class ModelCalls:
    """The app uvicorn serves: the model calls answered here, everything else passed on to Litestar; the access
    log (:mod:`server.access`) around both. uvicorn's protocol here (:mod:`server.protocol`) finds this app and
    hands it the model calls without ASGI (:meth:`find`, :meth:`serve`)."""

    def __init__(self, app: Litestar) -> None:
        self.state, self.inner = app.state, access_log(cast(ASGIApp, app))
        # A restart setting, like Litestar's own limit for the other routes (a reload that changes it says so).
        self.limit: int = self.state.runtime.loaded.profile.server.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.find(scope)
        if found is None:
            await self.inner(scope, receive, send)
        else:
            await self.serve(ASGIConn(scope, receive, send), found)

    def find(self, scope: Scope) -> Found | None:
        """What :meth:`serve` needs to serve this request; ``None`` for one that is not a model call."""
        if scope["type"] != "http":
            return None
        path = _path(scope)
        found = _route(path)
        return None if found is None else (path, *found)

    async def serve(self, conn: Conn, found: Found) -> None:
        """Answer a model call (:meth:`find`): keys and limits, the endpoint, the reply, the access line."""
        scope = conn.scope
        path, template, provider, endpoint = found
        access = Access(scope)  # the path as asked
        scope["path"], scope["path_template"] = path, template  # key scopes see the path Litestar would
        scope.setdefault("state", {})
        out = _Out(conn, access)
        try:
            if scope["method"] == "OPTIONS":
                await out.whole(204, [(b"allow", b"POST, OPTIONS")], b"")
                return
            if scope["method"] != "POST":
                raise MethodNotAllowedError(f"{scope['method']} is not allowed on {scope['path']}.")
            out.observed = observed = await admit(self.state, scope)
            observed.open()
            try:
                await self._answer(out, provider, endpoint)
            finally:
                await observed.close()
        except Exception as exc:  # refused before the call: no key, out of scope, rate limited
            if out.started:  # failed after the answer began (a stream cut): nothing more can be said on this response
                raise
            await out.failure(exc)
        finally:
            access.write(scope)

    async def _answer(self, out: _Out, provider: str | None, endpoint: Endpoint) -> None:
        conn = out.conn
        try:
            body = await _body(conn, self.limit)
            reply = await endpoint(Exchange(conn.scope, conn.receive, self.state, conn.departure), provider, body)
        except Exception as exc:
            await out.failure(exc)
            return
        await out.reply(reply)


def _body_too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError("The request body is larger than this gateway accepts (server.max_body_bytes in the "
                                "profile).")


async def _body(conn: Conn, limit: int) -> bytes:
    """The whole request body, refused with a 413 as soon as it is known to exceed ``limit`` bytes."""
    for name, value in conn.scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _body_too_large()
    body = conn.body_in()
    if body is not None:
        if len(body) > limit:
            raise _body_too_large()
        return body
    receive = conn.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientClosedRequest("the client closed the connection before sending the whole request")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _body_too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _raw(headers: Mapping[str, str]) -> Headers:
    """Headers as the connection writes them."""
    return [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]


def _content_type(media_type: str) -> bytes:
    return (f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type).encode()


class _Out:
    """One model call's response on its way out: the metering (once the key is admitted) and the access line note
    its head and body before the connection writes them."""

    __slots__ = ("access", "conn", "observed", "started")

    def __init__(self, conn: Conn, access: Access) -> None:
        self.conn, self.access = conn, access
        self.observed: Observed | None = None
        self.started = False

    def _head(self, status: int, headers: Headers) -> Headers:
        self.started = True
        if self.observed is not None:
            headers = self.observed.on_head(status, headers)
        return self.access.on_head(status, headers)

    async def whole(self, status: int, headers: Headers, body: bytes) -> None:
        if status != 204:
            headers.append((b"content-length", b"%d" % len(body)))
        headers = self._head(status, headers)
        if self.observed is not None:
            await self.observed.on_body(body, False)
        await self.conn.whole(status, headers, body)

    async def reply(self, reply: Reply) -> None:
        headers = [(b"content-type", _content_type(reply.media_type))]
        headers += _raw(reply.headers)
        if reply.stream is None:
            await self.whole(200, headers, reply.body)
            return
        try:
            await self.conn.begin(200, self._head(200, headers))
            await self._stream(reply.stream)
        finally:
            if reply.close is not None:
                await reply.close()

    async def _stream(self, pieces: AsyncIterator[bytes]) -> None:
        """Write ``pieces`` as they come; stop quietly when the client leaves (watched, since a slow upstream may
        send nothing for a long time)."""
        observed, conn = self.observed, self.conn
        watch = Watch(conn.departure, conn.receive)
        try:
            if watch.left:
                return
            async for piece in pieces:
                if observed is not None:
                    await observed.on_body(piece, True)
                await conn.piece(piece)
            watch.stop()  # not what follows: the last message, the settlement of the key's usage in it
            if observed is not None:
                await observed.on_body(b"", False)
            await conn.end()
        except asyncio.CancelledError:
            if watch.cancelled_by_leaving():  # the client left: nobody to write to
                return
            raise
        finally:
            watch.stop()

    async def failure(self, exc: Exception) -> None:
        """``exc`` as OpenAI's error body; one that is not the gateway's own is logged (call it where it was
        caught) and answered as a 500."""
        scope = self.conn.scope
        if not isinstance(exc, ModelRuntimeError):
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            exc = InternalError("The gateway failed to handle this request; see its log.")
        log_error(scope["method"], scope["path"], exc)
        status, extra, body = error_parts(exc)
        headers = [(b"content-type", b"application/json")]
        headers += _raw(extra)
        await self.whole(status, headers, body)

