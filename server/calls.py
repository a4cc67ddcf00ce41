"""The model calls with JSON bodies, served in plain ASGI in front of Litestar: the routes that carry the traffic.

``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/rerank``, ``/v1/moderations``, their
``/{provider}/v1/...`` twins (Chatchat's routes) and ``/rerank``, ``/v2/rerank`` (Cohere's and Jina's clients).
Per request: the route by dictionary lookup, keys and limits (:func:`server.metering.run_metered`), the body read
whole up to ``server.max_body_bytes``, the endpoint, and the :class:`~server.routes._reply.Reply` written with raw
``send`` calls; errors leave as OpenAI's body (:func:`server.errors.error_parts`). Litestar's routing, signature
model, response objects and exception middleware cost about a third of a fast call's CPU, and none of them does
anything here. Every other path, and the audio uploads (multipart forms), go on to Litestar.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, cast

from litestar import Litestar, Response, post
from litestar.handlers import HTTPRouteHandler
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
from .metering import run_metered
from .routes import moderations, openai, rerank
from .routes._reply import Exchange, Reply, Req, to_response

__all__ = ["ROUTES", "documented", "model_calls"]

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Endpoint = Callable[[Exchange, str | None, bytes], Awaitable[Reply]]

log = logging.getLogger("model_runtime")

ROUTES: dict[str, Endpoint] = {
    "/chat/completions": openai.chat,
    "/completions": openai.complete,
    "/embeddings": openai.embed,
    "/rerank": rerank.rerank,
    "/moderations": moderations.moderate,
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
    so that the OpenAPI schema lists them; requests through :func:`model_calls` never reach them, but they would
    answer the same."""
    if under == "/":
        return [_handler(path, endpoint, "root") for path, endpoint in _ROOT.items()]
    where = "provider" if under.startswith("/{provider") else "v1"
    return [_handler(path, endpoint, where) for path, endpoint in ROUTES.items()]


def _handler(path: str, endpoint: Endpoint, where: str) -> HTTPRouteHandler:
    async def of_provider(request: Req, provider: str) -> Response[bytes] | Stream:
        return to_response(await endpoint(Exchange.of(request), provider, await request.body()))

    async def of_any(request: Req) -> Response[bytes] | Stream:
        return to_response(await endpoint(Exchange.of(request), None, await request.body()))

    handler = of_provider if where == "provider" else of_any
    handler.__doc__ = endpoint.__doc__
    name = f"{where}_{path.strip('/').replace('/', '_')}"
    return post(path, status_code=200, name=name, operation_id=name)(handler)


def model_calls(app: Litestar) -> ASGIApp:
    """``app`` with the model calls served in front of it, and the access log (:mod:`server.access`) around both:
    the model calls keep their lines themselves, in the one send wrapper they have anyway."""
    state, inner = app.state, access_log(cast(ASGIApp, app))
    # A restart setting, like Litestar's own limit for the other routes (a reload that changes it says so).
    limit: int = state.runtime.loaded.profile.server.max_body_bytes

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        path = _path(scope) if scope["type"] == "http" else ""
        found = _route(path) if path else None
        if found is None:
            await inner(scope, receive, send)
            return
        access = Access(scope)
        template, provider, endpoint = found
        scope["path"], scope["path_template"] = path, template  # key scopes see the path Litestar would
        scope.setdefault("state", {})
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if not started:
                started = True
                access.on_start(message)
            await send(message)

        try:
            if scope["method"] == "OPTIONS":
                await sending({"type": "http.response.start", "status": 204,
                               "headers": [(b"allow", b"POST, OPTIONS")]})
                await sending({"type": "http.response.body", "body": b""})
                return
            if scope["method"] != "POST":
                raise MethodNotAllowedError(f"{scope['method']} is not allowed on {scope['path']}.")

            async def answer(scope: Scope, receive: Receive, send: Send) -> None:
                await _answer(Exchange(scope, receive, state), provider, endpoint, send, limit)

            await run_metered(state, scope, receive, sending, answer)
        except Exception as exc:  # refused before the call: no key, out of scope, rate limited
            if started:  # failed after the answer began (a stream cut): nothing more can be said on this response
                raise
            await _send_failure(scope, sending, exc)
        finally:
            access.write(scope)

    return wrapped


async def _answer(exchange: Exchange, provider: str | None, endpoint: Endpoint, send: Send, limit: int) -> None:
    scope = exchange.scope
    try:
        reply = await endpoint(exchange, provider, await _body(scope, exchange.receive, limit))
    except Exception as exc:
        await _send_failure(scope, send, exc)
        return
    await _send(reply, exchange.receive, send)


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refused with a 413 as soon as it is known to exceed ``limit`` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientClosedRequest("the client closed the connection before sending the whole request")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError("The request body is larger than this gateway accepts (server.max_body_bytes in the "
                                "profile).")


def _content_type(media_type: str) -> bytes:
    return (f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type).encode()


async def _send(reply: Reply, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", _content_type(reply.media_type))]
    headers += [(name.encode(), value.encode("latin-1")) for name, value in reply.headers.items()]
    if reply.stream is None:
        headers.append((b"content-length", b"%d" % len(reply.body)))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    try:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await _stream(reply.stream, receive, send)
    finally:
        if reply.close is not None:
            await reply.close()


async def _stream(pieces: AsyncIterator[bytes], receive: Receive, send: Send) -> None:
    """Write ``pieces`` as they come; stop quietly when the client leaves (a task waits for its disconnect, since
    a slow upstream may send nothing for a long time)."""
    task = asyncio.current_task()
    assert task is not None
    left = finished = False

    def on_disconnect(watcher: asyncio.Future[None]) -> None:
        nonlocal left
        # A callback already scheduled when the pieces ran out must not cancel what follows (the last message,
        # the settlement of the key's usage in it, closing the stream).
        if not finished and not watcher.cancelled() and watcher.exception() is None:
            left = True
            task.cancel()

    watcher = asyncio.ensure_future(_disconnected(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        async for piece in pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        finished = True  # once the last piece is out, receive() says "disconnect"
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if left and task.uncancel() == 0:  # the client left: nobody to write to
            return
        raise
    finally:
        finished = True
        watcher.remove_done_callback(on_disconnect)
        watcher.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_failure(scope: Scope, send: Send, exc: Exception) -> None:
    """``exc`` as OpenAI's error body; one that is not the gateway's own is logged (call it where it was caught)
    and answered as a 500."""
    if not isinstance(exc, ModelRuntimeError):
        log.exception("unhandled error on %s %s", scope["method"], scope["path"])
        exc = InternalError("The gateway failed to handle this request; see its log.")
    log_error(scope["method"], scope["path"], exc)
    status, extra, body = error_parts(exc)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(name.encode(), value.encode("latin-1")) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
