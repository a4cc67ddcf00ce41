"""Anthropic's Messages API (``POST /v1/messages``) behind OpenAI's chat completions.

The translation both ways is in :mod:`.messages` and, for streams, :mod:`.stream`. Requests authenticate with
``x-api-key`` and pin ``anthropic-version``. Anthropic's errors (``{"type": "error", "error": {"type",
"message"}}``) map by status, as every provider's do, and by type where the status says too little: a prompt
longer than the model's window is ``context_length_exceeded`` (so a route's ``context_fallbacks`` apply),
``overloaded_error`` (HTTP 529) is a 503, and the same types arriving as a stream's ``error`` event end the
stream with the matching OpenAI error event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from core import errors
from core.model_types import EventStream, JSONReply, ModelTarget, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.translate import expect_stream, refuse_effort_without_thinking
from providers.openai_compatible import OpenAICompatibleProvider
from providers.openai_compatible.provider import USER_AGENT

from .messages import Message, build_request, chat_completion
from .stream import AnthropicStream

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"
"""The API version this translation is written against (Anthropic keeps it stable and adds features in place)."""
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
_TOO_LONG = ("prompt is too long", "input is too long", "exceeds the context window", "exceed context limit")
_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(Message).decode


class _Detail(msgspec.Struct):
    type: str = ""
    message: str = ""


class _ErrorBody(msgspec.Struct):
    error: _Detail


class _Listed(msgspec.Struct):
    id: str


class _ModelPage(msgspec.Struct):
    data: list[_Listed]


class AnthropicProvider(OpenAICompatibleProvider):
    """``api.anthropic.com`` unless ``base_url`` says otherwise (the root, without ``/v1``)."""

    default_base_url = "https://api.anthropic.com"

    def auth_headers(self) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT, "anthropic-version": ANTHROPIC_VERSION}
        api_key = self.context.credentials.get("api_key")
        if api_key:
            headers["x-api-key"] = str(api_key)
        return headers

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST v1/messages``, translated both ways."""
        refuse_effort_without_thinking(target, raw)
        body = build_request(request, raw, self.upstream_model(target), *_max_tokens_rule(target))
        response = await self._send("v1/messages", _encode(body), target.timeout_s)
        if request.stream:
            await expect_stream(response, "text/event-stream", self.name)
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return AnthropicStream(response, self.context, include_usage, self._event_error)
        reply = await self._read_json(response)
        try:
            completion = chat_completion(_decode_message(reply.body))
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered in a shape that is not a Messages "
                                       "API response", code="upstream_invalid_response") from None
        return JSONReply(_encode(completion), completion.usage)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Anthropic has no legacy completions."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is a chat model: use /v1/chat/completions.",
                                         param="model", code="unsupported_model_endpoint")

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        error = super().error_from(status, headers, content)
        try:
            detail = msgspec.json.decode(content, type=_ErrorBody).error
        except msgspec.MsgspecError:
            return error
        return _refined(error, detail.type, detail.message)

    def _event_error(self, kind: str, message: str) -> errors.ModelRuntimeError:
        """The gateway error for a stream's ``error`` event."""
        cls = errors.for_status(_STATUS_OF_TYPE.get(kind, 500), upstream=True)
        text = self.redact(message) or kind
        if cls.status >= 500:
            text = f"provider instance '{self.name}' failed mid-stream ({kind}): {text}"
        return _refined(cls(text), kind, message)

    async def validate_credentials(self) -> None:
        """``GET v1/models``: authenticated and free."""
        await self._validated(self.get_json("v1/models?limit=1"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """``GET v1/models/{id}``: key and model, without spending a token."""
        await self._validated(self.get_json(f"v1/models/{quote(self.upstream_model(target), safe='')}"))

    async def remote_models(self) -> list[str]:
        """``GET v1/models``: the ids Anthropic lists for this key."""
        reply = await self.get_json("v1/models?limit=1000")
        try:
            return [m.id for m in msgspec.json.decode(reply.body, type=_ModelPage).data]
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' listed its models in an unknown shape",
                                       code="upstream_invalid_response") from None

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        """The API root; a ``/v1`` some users add (as for OpenAI) is dropped, since paths carry it."""
        return super().base_url(credentials).rstrip("/").removesuffix("/v1")


def _refined(error: errors.ModelRuntimeError, kind: str, message: str) -> errors.ModelRuntimeError:
    """Anthropic's error type read where the status alone says too little."""
    lowered = message.lower()
    if kind == "invalid_request_error" and any(phrase in lowered for phrase in _TOO_LONG):
        error.code = "context_length_exceeded"
        error.param = "messages"
    elif kind == "not_found_error" and lowered.startswith("model:"):
        return errors.ModelNotFoundError(error.message, param="model", retry_after=error.retry_after)
    return error


def _max_tokens_rule(target: ModelTarget) -> tuple[int | None, int | None]:
    """The model's ``max_tokens`` default (its rule's ``default``, else its ``max``), for a client that sent none,
    and its ceiling (the rule's ``max``)."""
    if target.schema is None:
        return None, None
    for rule in target.schema.parameter_rules:
        if rule.name == "max_tokens":
            value = rule.default if isinstance(rule.default, int) else rule.max
            return (int(value) if value else None), (int(rule.max) if rule.max else None)
    return None, None
