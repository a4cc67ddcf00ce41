"""OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import msgspec

from ..errors import ModelRuntimeError

__all__ = ["ErrorBody", "ErrorDetail", "error_body"]


class ErrorDetail(msgspec.Struct, kw_only=True):
    """The inner object; ``param`` and ``code`` are always present, ``null`` when unknown."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct):
    """The whole error response body."""

    error: ErrorDetail


def error_body(error: ModelRuntimeError) -> ErrorBody:
    """The body OpenAI's clients expect for ``error``."""
    return ErrorBody(ErrorDetail(message=error.message, type=error.type, param=error.param, code=error.code))
