"""``POST /v1/moderations``: OpenAI's verdict per input, from whichever provider moderates."""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from core.errors import InvalidRequestError
from core.openai.moderations import ModerationRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Req, serve

__all__ = ["DEFAULT_MODEL", "moderations", "seed_moderations"]

DEFAULT_MODEL = "omni-moderation-latest"
"""The model OpenAI uses when a request names none; a profile route of this name points it elsewhere."""


async def _moderate(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), ModerationRequest)
    if body.input == []:
        raise InvalidRequestError("'input' must contain at least one item.", param="input", code="empty_array")
    model = body.model or DEFAULT_MODEL
    return await serve(request, provider, model, ModelType.MODERATION, body, {**raw, "model": model},
                       lambda upstream, target, *request_body: upstream.moderation().moderate(target, *request_body))


@post("/moderations", status_code=200)
async def moderations(request: Req) -> Response[bytes] | Stream:
    """Classify each input."""
    return await _moderate(request, None)


@post("/moderations", status_code=200, name="seed_moderations")
async def seed_moderations(request: Req, provider: str) -> Response[bytes] | Stream:
    """Moderation with a model of ``provider``."""
    return await _moderate(request, provider)
