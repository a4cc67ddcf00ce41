"""Server-sent events: the framing every stream uses, and the error event that ends a failed stream."""

from __future__ import annotations

import msgspec

from .errors import ModelRuntimeError
from .openai.errors import error_body

__all__ = ["DONE", "error_event", "event"]

DONE = b"data: [DONE]\n\n"
_encoder = msgspec.json.Encoder()


def event(payload: msgspec.Struct) -> bytes:
    """One ``data:`` event carrying ``payload`` as JSON."""
    return b"data: " + _encoder.encode(payload) + b"\n\n"


def error_event(error: ModelRuntimeError) -> bytes:
    """The event that ends a stream which failed after it started; OpenAI's SDKs raise ``APIError`` on it."""
    return event(error_body(error))
