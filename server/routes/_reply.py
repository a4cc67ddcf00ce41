"""Turning a provider's reply into a Litestar response."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import State
from litestar.response import Stream

from core.model_types import EventStream, JSONReply
from core.runtime import Runtime

__all__ = ["SSE_HEADERS", "Req", "reply", "runtime"]

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
Req = Request[Any, Any, State]


def runtime(request: Req) -> Runtime:
    """The runtime built from the profile at start-up."""
    result: Runtime = request.app.state.runtime
    return result


def reply(result: JSONReply | EventStream) -> Response[bytes] | Stream:
    """A JSON body as is, or an event stream written to the client event by event as it arrives."""
    if isinstance(result, JSONReply):
        return Response(result.body, media_type="application/json")
    return Stream(result.__aiter__(), media_type="text/event-stream", headers=SSE_HEADERS)
