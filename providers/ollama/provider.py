"""Ollama's native API behind chat completions and embeddings (an alternative to its OpenAI routes).

Chat is ``POST /api/chat``, translated in :mod:`.messages` and, for streams (newline-delimited JSON, not SSE),
:mod:`.stream`; embeddings are ``POST /api/embed`` with every input in one call (Ollama batches them itself),
``dimensions`` passed on and ``prompt_eval_count`` as the usage. ``GET /api/tags`` lists the pulled models
(credentials check and ``fetch-from-remote``); ``POST /api/show`` checks one model without loading it.

A local Ollama needs no key; ``api_key``, when set, is sent as a Bearer token, for Ollama behind a proxy or on
ollama.com. Errors are ``{"error": "..."}``: a model that is not pulled is a 404 and becomes
``model_not_found``; a model lacking a capability (``... does not support tools``) is a 400 naming the
parameter; an error line in a stream ends it with the matching OpenAI error event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from core import errors
from core.embeddings import embedding_reply, texts_of
from core.model_types import EventStream, JSONReply, ModelTarget, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.translate import expect_stream
from providers.openai_compatible import OpenAICompatibleProvider

from .messages import ChatResponse, build_request, chat_completion
from .stream import OllamaStream

__all__ = ["OllamaProvider"]

_encode = msgspec.json.Encoder().encode
_decode_chat = msgspec.json.Decoder(ChatResponse).decode
_UNSUPPORTED = {"does not support tools": "tools", "does not support thinking": "think",
                "does not support chat": "model", "does not support embeddings": "model"}
"""A capability a model lacks (Ollama's 400 ``<model> does not support ...``), and the parameter that asked."""
_EMBED_PASSED = ("truncate", "keep_alive", "options")


class _Embedded(msgspec.Struct):
    embeddings: list[list[float]]
    prompt_eval_count: int | None = None


class _Listed(msgspec.Struct):
    name: str = ""
    model: str = ""


class _Tags(msgspec.Struct):
    models: list[_Listed]


class OllamaProvider(OpenAICompatibleProvider):
    """A local Ollama (``http://127.0.0.1:11434``) unless ``base_url`` says otherwise (the root, without ``/api``)."""

    default_base_url = "http://127.0.0.1:11434"

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        """The server root; an ``/api`` or ``/v1`` some users add (from Ollama's docs or its OpenAI routes) is
        dropped, since paths carry it."""
        return super().base_url(credentials).rstrip("/").removesuffix("/api").removesuffix("/v1")

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST api/chat``, translated both ways."""
        model = self.upstream_model(target)
        context_size = target.schema.context_size if target.schema is not None else None
        body = build_request(request, raw, model, context_size)
        response = await self._send("api/chat", _encode(body), target.timeout_s)
        if request.stream:
            await expect_stream(response, "application/x-ndjson", self.name)
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return OllamaStream(response, self.context, model, include_usage, self.redact)
        reply = await self._read_json(response)
        try:
            completion = chat_completion(_decode_chat(reply.body), model)
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered in a shape that is not an Ollama "
                                       "chat response", code="upstream_invalid_response") from None
        return JSONReply(_encode(completion), completion.usage)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Legacy completions are not translated to Ollama's ``/api/generate``."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is served as a chat model: use "
                                         "/v1/chat/completions.", param="model", code="unsupported_model_endpoint")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST api/embed`` with every input at once."""
        texts = texts_of(request, self.name)
        model = self.upstream_model(target)
        body: dict[str, Any] = {"model": model, "input": texts}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        body.update((name, raw[name]) for name in _EMBED_PASSED if raw.get(name) is not None)
        reply = await self.post_json("api/embed", body, target.timeout_s)
        try:
            embedded = msgspec.json.decode(reply.body, type=_Embedded)
        except msgspec.MsgspecError:
            embedded = _Embedded([])
        if len(embedded.embeddings) != len(texts):
            raise errors.UpstreamError(f"provider instance '{self.name}' answered the embedding call in an unknown "
                                       "shape", code="upstream_invalid_response")
        return embedding_reply(embedded.embeddings, model, embedded.prompt_eval_count, request.encoding_format)

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        error = super().error_from(status, headers, content)
        lowered = error.message.lower()
        if status == 404 and "not found" in lowered:
            return errors.ModelNotFoundError(error.message, param="model", retry_after=error.retry_after)
        if status == 400:
            error.param = next((param for phrase, param in _UNSUPPORTED.items() if phrase in lowered), error.param)
        return error

    async def validate_credentials(self) -> None:
        """``GET api/tags``: the server answers (and takes the key, behind a proxy)."""
        await self._validated(self.get_json("api/tags"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """``POST api/show``: the model is pulled, checked without loading it."""
        await self._validated(self.post_json("api/show", {"model": self.upstream_model(target)}))

    async def remote_models(self) -> list[str]:
        """``GET api/tags``: the pulled models, as ``name:tag``."""
        reply = await self.get_json("api/tags")
        try:
            listed = msgspec.json.decode(reply.body, type=_Tags).models
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' listed its models in an unknown shape",
                                       code="upstream_invalid_response") from None
        return [m.model or m.name for m in listed]
