"""Request bodies: JSON → (typed Struct, raw object), with OpenAI-style 400s that name the field at fault."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from core.errors import InvalidRequestError

__all__ = ["decode_body"]

T = TypeVar("T", bound=msgspec.Struct)

_decode_json = msgspec.json.Decoder().decode
_AT_PATH = re.compile(r" - at `\$\.?(.*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def decode_body(body: bytes, type_: type[T]) -> tuple[T, dict[str, Any]]:
    """Decode a JSON object into ``type_``; keep the raw object so unknown fields can be forwarded."""
    try:
        raw = _decode_json(body)
    except msgspec.DecodeError:
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. The body must be a JSON object "
            "(Content-Type: application/json).", code="invalid_json") from None
    if not isinstance(raw, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_json")
    try:
        return msgspec.convert(raw, type_), raw
    except msgspec.ValidationError as exc:
        raise _describe(str(exc)) from None


def _describe(text: str) -> InvalidRequestError:
    match = _AT_PATH.search(text)
    path = match.group(1) if match else ""
    message = text[: match.start()] if match else text
    missing = _MISSING.search(message)
    if missing:
        param = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return InvalidRequestError(f"Missing required parameter: '{param}'.", param=param,
                                   code="missing_required_parameter")
    message = message.replace("`", "'").replace("Expected", "expected")
    return InvalidRequestError(f"Invalid value for '{path}': {message}." if path else f"Invalid request: {message}.",
                               param=path or None, code="invalid_value")
