"""DashScope's errors as ``core.errors``: by its ``code``, which says more than the HTTP status.

DashScope answers ``{"code": "Throttling.RateQuota", "message": "...", "request_id": "..."}`` (Model Studio's
error reference); a stream that fails after it started sends the same object as an ``event:error``. The table
follows the codes of that reference; a code it does not list falls back to the status.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import msgspec

from core import errors
from core.model_types import ProviderContext
from providers.openai_compatible.errors import error_from_response

__all__ = ["DashScopeError", "error_from_dashscope", "from_code"]

_TOO_LONG = ("range of input length should be", "input length should be", "exceeds the model's maximum")
_NOT_FOUND = ("model not exist", "model not found", "model can not be found")


class DashScopeError(msgspec.Struct):
    """The error object, in a response body or a stream's error event."""

    code: str = ""
    message: str = ""
    request_id: str = ""


_decode = msgspec.json.Decoder(DashScopeError).decode


def error_from_dashscope(context: ProviderContext, status: int, headers: httpx.Headers, content: bytes,
                         redact: Callable[[str], str]) -> errors.ModelRuntimeError:
    """The gateway error for one DashScope error response."""
    base = error_from_response(context, status, headers, content, redact)
    try:
        detail = _decode(content)
    except msgspec.MsgspecError:
        return base
    if status == 401 or detail.code == "InvalidApiKey":
        return error_from_response(context, 401, headers, content, redact)
    mapped = from_code(context.name, detail, redact)
    if mapped is None:
        base.code = base.default_code  # DashScope's code names are not OpenAI's
        return base
    mapped.retry_after = base.retry_after
    return mapped


def from_code(provider: str, detail: DashScopeError, redact: Callable[[str], str]) -> errors.ModelRuntimeError | None:
    """The error DashScope's ``code`` and message name, or ``None`` when only the status can say."""
    code, message = detail.code, redact(detail.message) or detail.code
    lowered = message.lower()
    if code == "InvalidApiKey":
        return errors.ProviderAuthenticationError(f"provider instance '{provider}' rejected the gateway's "
                                                  f"credentials: {message}")
    if code.startswith("Throttling"):
        return errors.RateLimitError(message)
    if code == "DataInspectionFailed" or code.endswith(".DataInspectionFailed"):
        return errors.InvalidRequestError(message, param="messages", code="content_filter")
    if code == "Arrearage":
        return errors.ProviderAccountError(f"provider instance '{provider}' cannot be used until its Alibaba Cloud "
                                           f"account is paid for: {message}")
    if code == "ModelNotFound" or any(phrase in lowered for phrase in _NOT_FOUND):
        return errors.ModelNotFoundError(message, param="model")
    if any(phrase in lowered for phrase in _TOO_LONG):
        return errors.InvalidRequestError(message, param="messages", code="context_length_exceeded")
    if code.startswith(("AccessDenied", "Model.AccessDenied")):  # the gateway's account, not the caller's
        return errors.ProviderAccountError(f"provider instance '{provider}' refuses the gateway's account this "
                                           f"call: {message}", param="model", code="provider_permission_denied")
    if code.startswith(("InvalidParameter", "BadRequest")):
        return errors.InvalidRequestError(message, code="invalid_value")
    return None
