"""``POST /v1/moderations``: OpenAI's verdict per input, from whichever provider moderates (served by
:mod:`server.calls`)."""

from __future__ import annotations

from core.errors import InvalidRequestError
from core.openai.moderations import ModerationRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Exchange, Reply, serve

__all__ = ["DEFAULT_MODEL", "moderate"]

DEFAULT_MODEL = "omni-moderation-latest"
"""The model OpenAI uses when a request names none; a profile route of this name points it elsewhere."""


async def moderate(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Classify each input."""
    body, raw = decode_body(content, ModerationRequest)
    if body.input == []:
        raise InvalidRequestError("'input' must contain at least one item.", param="input", code="empty_array")
    model = body.model or DEFAULT_MODEL
    return await serve(exchange, provider, model, ModelType.MODERATION, body, {**raw, "model": model},
                       lambda upstream, target, *request_body: upstream.moderation().moderate(target, *request_body))
