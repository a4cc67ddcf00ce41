"""The one error map of OpenAI-wire providers: httpx failures and upstream error responses → ``core.errors``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from core import errors
from core.http import map_errors
from core.model_types import ProviderContext

__all__ = ["error_from_response", "map_errors"]


class _UpstreamDetail(msgspec.Struct):
    message: str | None = None
    param: str | None = None
    code: str | int | None = None


class _UpstreamError(msgspec.Struct):
    """OpenAI's ``{"error": {...}}`` (or ``{"error": "..."}``: TEI, llama.cpp), FastAPI's ``{"detail": ...}``
    (Xinference, Jina, Voyage) or Cohere's ``{"message": ...}``."""

    error: _UpstreamDetail | str | None = None
    detail: str | list[Any] | None = None
    message: str | None = None


_decode_error = msgspec.json.Decoder(_UpstreamError).decode


def error_from_response(context: ProviderContext, status: int, headers: httpx.Headers, body: bytes,
                        redact: Callable[[str], str]) -> errors.ModelRuntimeError:
    """The ``core.errors`` instance for an upstream error response."""
    if status == 401:
        return errors.ProviderAuthenticationError(
            f"provider instance '{context.name}' rejected the gateway's credentials; the operator should check "
            f"{context.credential_hint}")
    message, param, code = _parse(body)
    if status in _ACCOUNT:
        return errors.ProviderAccountError(
            f"provider instance '{context.name}' {_ACCOUNT[status]} (HTTP {status}): "
            f"{redact(message) if message else 'no reason given'}. The operator should check the account of "
            f"{context.credential_hint}", code=code or errors.ProviderAccountError.default_code,
            retry_after=_retry_after(headers))
    cls = errors.for_status(status, upstream=True)
    if cls is errors.NotFoundError and code == "model_not_found":
        cls = errors.ModelNotFoundError
    text = redact(message) if message else f"provider instance '{context.name}' answered HTTP {status}"
    if status >= 500:
        text = f"provider instance '{context.name}' failed (HTTP {status}): {text}"
    return cls(text, param=param, code=code, retry_after=_retry_after(headers))


_ACCOUNT = {402: "cannot be used until its account is in order", 403: "refuses the gateway's account this call"}


def _parse(body: bytes) -> tuple[str | None, str | None, str | None]:
    try:
        parsed = _decode_error(body)
    except msgspec.MsgspecError:
        return None, None, None
    detail = parsed.error
    if isinstance(detail, _UpstreamDetail):
        return detail.message, detail.param, str(detail.code) if detail.code is not None else None
    if isinstance(detail, str):
        return detail, None, None
    if isinstance(parsed.detail, str):
        return parsed.detail, None, None
    if isinstance(parsed.detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}, ...]
        problems = [_problem(p) for p in parsed.detail]
        return "; ".join(p for p in problems if p) or None, None, None
    return parsed.message, None, None


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", []) if part != "body")
    message = str(item.get("msg", ""))
    return f"{where}: {message}" if where else message


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
