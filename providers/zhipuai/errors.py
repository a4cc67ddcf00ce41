"""Zhipu's error responses as ``core.errors``: the HTTP status says little, the business code says what happened.

Zhipu answers ``{"error": {"code": "1211", "message": "..."}}`` (the code a string), with a status that is often
not the one the code implies: an unknown model is a 400, an account in arrears a 429. The table below follows
the business codes of Zhipu's error reference (docs.bigmodel.cn, "API 错误码"); a code it does not list falls back
to the status, through the shared OpenAI-wire map.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import msgspec

from core import errors
from core.model_types import ProviderContext
from providers.openai_compatible.errors import error_from_response

__all__ = ["error_from_zhipu"]

_AUTH = frozenset({"1000", "1001", "1002", "1003", "1004", "401"})
_ACCOUNT = frozenset({"1110", "1111", "1112", "1113", "1120", "1121"})
"""Inactive, missing, locked, in arrears: only the operator can fix these."""
_LIMITED = frozenset({"1302", "1303", "1304", "1305", "1308", "1310"})
_PARAMETER = frozenset({"1210", "1213", "1214", "1215"})
_FIELD = re.compile(r"([A-Za-z_][\w.\[\]]*) ?参数非法", re.ASCII)  # "messages 参数非法。请检查文档。"
_TOO_LONG = ("exceeds the model's maximum context length", "prompt exceeds max length")


class _Detail(msgspec.Struct):
    code: str | int


class _Body(msgspec.Struct):
    error: _Detail


_decode = msgspec.json.Decoder(_Body).decode


def error_from_zhipu(context: ProviderContext, status: int, headers: httpx.Headers, content: bytes,
                     redact: Callable[[str], str]) -> errors.ModelRuntimeError:
    """The gateway error for one Zhipu error response."""
    base = error_from_response(context, status, headers, content, redact)
    try:
        code = str(_decode(content).error.code)
    except msgspec.MsgspecError:
        return base
    message = base.message
    if code in _AUTH or status == 401:
        return error_from_response(context, 401, headers, content, redact)
    if code in _ACCOUNT:
        return errors.ProviderAccountError(f"provider instance '{context.name}' cannot be used until its Zhipu "
                                           f"account is in order: {message}")
    if code == "1211":
        return errors.ModelNotFoundError(message, param="model")
    if code == "1261" or any(phrase in message.lower() for phrase in _TOO_LONG):
        return errors.InvalidRequestError(message, param="messages", code="context_length_exceeded")
    if code == "1301":
        return errors.InvalidRequestError(message, param="messages", code="content_filter")
    if code in _LIMITED:
        return errors.RateLimitError(message, retry_after=base.retry_after)
    if code == "1312":  # "this model is in heavy demand, try again later or another model"
        return errors.UpstreamUnavailableError(message, retry_after=base.retry_after)
    if code in ("1220", "1311"):  # no access to this API, or not in the subscription: the gateway's account
        return errors.ProviderAccountError(f"provider instance '{context.name}' refuses the gateway's account this "
                                           f"call: {message}", param="model", code="provider_permission_denied")
    if code in _PARAMETER:
        field = _FIELD.search(message)
        return errors.InvalidRequestError(message, param=field.group(1) if field else None, code="invalid_value")
    if code.isdigit():  # a business code means nothing to OpenAI's clients: the class's own code instead
        base.code = base.default_code
    return base
