"""Google's Gemini API (Generative Language API, ``v1beta``) behind chat completions and embeddings.

Chat is ``models/{model}:generateContent`` (``:streamGenerateContent?alt=sse`` streamed), translated in
:mod:`.contents` and :mod:`.stream`; embeddings are ``models/{model}:batchEmbedContents`` in batches of 100, with
``dimensions`` as ``outputDimensionality`` (Gemini reports no token count for them: usage is counted here, as
an estimate). The key goes in ``x-goog-api-key``.

Errors come as ``{"error": {"code", "message", "status", "details"}}``. Gemini answers a wrong key with 400
``API_KEY_INVALID`` and a key without access with 403: both are the gateway's credentials, so both are a 401
naming the operator's setting. 429 carries its retry delay in ``RetryInfo``; 503 is Gemini being overloaded;
a prompt over the model's window is ``context_length_exceeded``; a blocked prompt (``promptFeedback``) is a
400 with code ``content_filter``, and a blocked answer ends with ``finish_reason: content_filter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from core import errors
from core.embeddings import Vectors, embed_in_batches, embedding_reply, texts_of
from core.model_types import EventStream, JSONReply, ModelTarget, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.tokens import count_text
from core.translate import refuse_effort_without_thinking
from providers.openai_compatible import OpenAICompatibleProvider
from providers.openai_compatible.provider import USER_AGENT

from .contents import GenerateContentResponse, build_request, chat_completion
from .stream import GeminiStream

__all__ = ["GeminiProvider"]

MAX_TEXTS = 100
"""Texts per ``batchEmbedContents`` call."""
_encode = msgspec.json.Encoder().encode
_decode_response = msgspec.json.Decoder(GenerateContentResponse).decode
_TOO_LONG = ("input token count", "exceeds the maximum number of tokens")


class _Detail(msgspec.Struct, rename="camel"):
    type: str = msgspec.field(default="", name="@type")
    reason: str | None = None
    retry_delay: str | None = None


class _Status(msgspec.Struct):
    code: int = 0
    message: str = ""
    status: str = ""
    details: list[_Detail] = []


class _ErrorBody(msgspec.Struct):
    error: _Status


class _Values(msgspec.Struct):
    values: list[float]


class _Embedded(msgspec.Struct):
    embeddings: list[_Values]


class _Listed(msgspec.Struct):
    name: str


class _ModelPage(msgspec.Struct, rename="camel"):
    models: list[_Listed] = []
    next_page_token: str | None = None


class GeminiProvider(OpenAICompatibleProvider):
    """``generativelanguage.googleapis.com`` unless ``base_url`` says otherwise (the root, without ``/v1beta``)."""

    default_base_url = "https://generativelanguage.googleapis.com"

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        """The API root; a ``/v1beta`` some users add is dropped, since paths carry it."""
        return super().base_url(credentials).rstrip("/").removesuffix("/v1beta")

    def auth_headers(self) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        api_key = self.context.credentials.get("api_key")
        if api_key:
            headers["x-goog-api-key"] = str(api_key)
        return headers

    def _model_path(self, target: ModelTarget, method: str) -> str:
        return f"v1beta/models/{quote(self.upstream_model(target), safe='')}:{method}"

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``generateContent``, or ``streamGenerateContent?alt=sse`` for a stream."""
        refuse_effort_without_thinking(target, raw)
        body = build_request(request, raw)
        model = self.upstream_model(target)
        if request.stream:
            response = await self._send(self._model_path(target, "streamGenerateContent?alt=sse"), _encode(body),
                                        target.timeout_s)
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return GeminiStream(response, self.context, model, include_usage, request.n or 1,
                                one_call=request.parallel_tool_calls is False)
        reply = await self.post_json(self._model_path(target, "generateContent"), body, target.timeout_s)
        try:
            answer = _decode_response(reply.body)
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered in a shape that is not a "
                                       "GenerateContentResponse", code="upstream_invalid_response") from None
        blocked = answer.prompt_feedback.block_reason if answer.prompt_feedback is not None else None
        if blocked and not answer.candidates:
            raise errors.InvalidRequestError(f"The prompt was blocked by the provider's safety filters ({blocked}).",
                                             param="messages", code="content_filter")
        completion = chat_completion(answer, model, one_call=request.parallel_tool_calls is False)
        return JSONReply(_encode(completion), completion.usage)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Gemini has no legacy completions."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is a chat model: use /v1/chat/completions.",
                                         param="model", code="unsupported_model_endpoint")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``batchEmbedContents``, in batches of :data:`MAX_TEXTS`."""
        texts = texts_of(request, self.name)
        model = self.upstream_model(target)
        extra: dict[str, Any] = {}
        if request.dimensions is not None:
            extra["outputDimensionality"] = request.dimensions
        task = raw.get("task_type")
        if isinstance(task, str):
            extra["taskType"] = task

        async def batch(part: list[str]) -> Vectors:
            requests = [{"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra} for text in part]
            reply = await self.post_json(self._model_path(target, "batchEmbedContents"), {"requests": requests},
                                         target.timeout_s)
            try:
                vectors = [item.values for item in msgspec.json.decode(reply.body, type=_Embedded).embeddings]
            except msgspec.MsgspecError:
                vectors = []
            if len(vectors) != len(part):
                raise errors.UpstreamError(f"provider instance '{self.name}' answered the embedding call in an "
                                           "unknown shape", code="upstream_invalid_response")
            return vectors, None

        vectors, _ = await embed_in_batches(texts, MAX_TEXTS, batch)
        return embedding_reply(vectors, model, count_text(model, texts).tokens, request.encoding_format)

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        try:
            detail = msgspec.json.decode(content, type=_ErrorBody).error
        except msgspec.MsgspecError:
            return super().error_from(status, headers, content)
        reasons = {d.reason for d in detail.details if d.reason}
        if "API_KEY_INVALID" in reasons or status in (401, 403):
            return super().error_from(401, headers, content)
        message = self.redact(detail.message) or f"provider instance '{self.name}' answered HTTP {status}"
        cls = errors.for_status(status, upstream=True)
        if status >= 500:
            message = f"provider instance '{self.name}' failed (HTTP {status} {detail.status}): {message}"
        code: str | None = None
        param: str | None = None
        if status == 400 and any(phrase in message.lower() for phrase in _TOO_LONG):
            code, param = "context_length_exceeded", "messages"
        elif status == 404:
            cls, param = errors.ModelNotFoundError, "model"
        retry_after = next((_seconds(d.retry_delay) for d in detail.details if d.retry_delay), None)
        if retry_after is None:
            retry_after = _seconds(headers.get("retry-after"))
        return cls(message, param=param, code=code, retry_after=retry_after)

    async def validate_credentials(self) -> None:
        """``GET v1beta/models``: authenticated and free."""
        await self._validated(self.get_json("v1beta/models?pageSize=1"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """``GET v1beta/models/{model}``: key and model, without spending a token."""
        await self._validated(self.get_json(f"v1beta/models/{quote(self.upstream_model(target), safe='')}"))

    async def remote_models(self) -> list[str]:
        """``GET v1beta/models``, every page; names without their ``models/`` prefix."""
        names: list[str] = []
        page_token: str | None = ""
        while page_token is not None:
            query = f"&pageToken={quote(page_token)}" if page_token else ""
            reply = await self.get_json(f"v1beta/models?pageSize=1000{query}")
            try:
                page = msgspec.json.decode(reply.body, type=_ModelPage)
            except msgspec.MsgspecError:
                raise errors.UpstreamError(f"provider instance '{self.name}' listed its models in an unknown shape",
                                           code="upstream_invalid_response") from None
            names += [m.name.removeprefix("models/") for m in page.models]
            page_token = page.next_page_token or None
        return names


def _seconds(value: str | None) -> float | None:
    """``"37s"`` (protobuf Duration) or ``"37"`` (Retry-After) as seconds."""
    if not value:
        return None
    try:
        return float(value.removesuffix("s"))
    except ValueError:
        return None
