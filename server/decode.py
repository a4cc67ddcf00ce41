"""Request bodies: JSON → (typed Struct, raw object), with OpenAI-style 400s that name the field at fault."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from core.errors import InvalidRequestError
from core.validation import format_key, read_validation_error

__all__ = ["decode_body", "describe_validation_error"]

T = TypeVar("T", bound=msgspec.Struct)

_decode_json = msgspec.json.Decoder().decode


def decode_body(body: bytes, type_: type[T]) -> tuple[T, dict[str, Any]]:
    """Decode a JSON object into ``type_``; keep the raw object so unknown fields can be forwarded."""
    try:
        raw = _decode_json(body)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequestError(
            f"We could not parse the JSON body of your request ({_why(exc)}). The body must be a JSON object "
            "in UTF-8 (Content-Type: application/json).", code="invalid_json") from None
    if not isinstance(raw, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_json")
    try:
        return msgspec.convert(raw, type_), raw
    except msgspec.ValidationError as exc:
        raise describe_validation_error(exc) from None


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, msgspec.ValidationError):
        return "a number is out of range"
    return "malformed JSON"


def describe_validation_error(exc: msgspec.ValidationError) -> InvalidRequestError:
    """OpenAI's 400 for a field that is missing, unknown or of the wrong type."""
    problem = read_validation_error(exc)
    param = format_key(problem.key) or None
    if problem.kind == "missing":
        return InvalidRequestError(f"Missing required parameter: '{param}'.", param=param,
                                   code="missing_required_parameter")
    if problem.kind == "unknown":
        return InvalidRequestError(f"Unrecognized request argument supplied: '{param}'.", param=param,
                                   code="unknown_parameter")
    return InvalidRequestError(f"Invalid value for '{param}': {problem.message}." if param
                               else f"Invalid request: {problem.message}.", param=param, code="invalid_value")
