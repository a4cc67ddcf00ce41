"""``GET /v1/usage``: requests, errors, tokens and cost per key, model and deployment (admin keys only)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromQuery

from core.usage import report

__all__ = ["usage"]

_encode = msgspec.json.Encoder().encode


@get("/usage", opt={"admin": True})
async def usage(request: Request[Any, Any, State], key: FromQuery[str | None] = None,
                model: FromQuery[str | None] = None, deployment: FromQuery[str | None] = None) -> Response[bytes]:
    """Usage since the state began (Redis: since it was last emptied), optionally for one key, model or
    deployment."""
    rows = [row for row in await request.app.state.meter.state.usage()
            if (key is None or row.key == key) and (model is None or row.model == model)
            and (deployment is None or row.deployment == deployment)]
    return Response(_encode(report(rows)), media_type="application/json")
