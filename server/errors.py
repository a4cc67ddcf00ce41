"""One exception map: every error leaves as OpenAI's ``{"error": {...}}`` body with the right status."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from core import errors
from core.openai.errors import error_body

__all__ = ["EXCEPTION_HANDLERS", "error_parts", "error_response", "log_error"]

log = logging.getLogger("model_runtime")
_encode = msgspec.json.Encoder().encode

def error_parts(error: errors.ModelRuntimeError) -> tuple[int, dict[str, str], bytes]:
    """``error`` as OpenAI answers it: status, headers (``Retry-After`` when the error carries one) and JSON body."""
    headers = {"retry-after": f"{error.retry_after:g}"} if error.retry_after is not None else {}
    if error.headers:
        headers.update(error.headers)
    return error.status, headers, _encode(error_body(error))


def error_response(error: errors.ModelRuntimeError) -> Response[bytes]:
    """Render ``error`` as OpenAI does, as a Litestar response."""
    status, headers, body = error_parts(error)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def log_error(method: str, path: str, exc: errors.ModelRuntimeError) -> None:
    """A line for a client that left and for errors on the gateway's or the upstream's side (5xx); nothing for
    the caller's own mistakes."""
    if isinstance(exc, errors.ClientClosedRequest):
        log.info("%s %s -> client closed the connection", method, path)
    elif exc.status >= 500:
        log.warning("%s %s -> %d %s: %s", method, path, exc.status, exc.code, exc.message)


def _runtime_error(request: Request[Any, Any, State], exc: errors.ModelRuntimeError) -> Response[bytes]:
    log_error(request.method, request.url.path, exc)
    return error_response(exc)


def _http_error(request: Request[Any, Any, State], exc: HTTPException) -> Response[bytes]:
    # Litestar's own errors: unknown route, wrong method, body over the limit, ...
    messages = {
        404: f"Unknown route {request.method} {request.url.path}. The OpenAI endpoints live under /v1.",
        405: f"{request.method} is not allowed on {request.url.path}.",
        413: "The request body is larger than this gateway accepts (server.max_body_bytes in the profile).",
    }
    status = exc.status_code
    message = messages.get(status) or (exc.detail if status < 500 else "The gateway failed to handle this request.")
    return error_response(errors.for_status(status)(message))


def _unexpected(request: Request[Any, Any, State], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(errors.InternalError("The gateway failed to handle this request; see its log."))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.ModelRuntimeError: _runtime_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
