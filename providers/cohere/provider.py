"""Cohere's v2 API: ``POST /v2/chat``, ``/v2/embed`` and ``/v2/rerank``, translated to and from OpenAI's shapes.

Chat is translated in :mod:`.chat` and, streamed event by event, in :mod:`.stream`. Embeddings: Cohere takes at
most 96 texts per call, so a larger batch goes out as concurrent calls whose vectors are joined in input order;
``input_type`` defaults to ``search_document``; ``dimensions`` is sent as ``output_dimension``; vectors are asked
for as floats and base64-encoded here when the client wants base64.

Errors come as ``{"id", "message"}`` and go through the shared error map, refined by message where the status says
too little: a prompt over the model's window (``too many tokens: ...``) is ``context_length_exceeded`` (so a
route's ``context_fallbacks`` apply), an unknown model is ``model_not_found``; 402 (the operator's billing) is a
503, and 499 (Cohere cancelled the request) a 502. A 429 passes on a ``Retry-After`` when Cohere sends one. A chat
that Cohere ends with ``ERROR`` or ``TIMEOUT`` is a 502 or 504, streamed or not.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from core import errors
from core.embeddings import Vectors, embed_in_batches, embedding_reply, texts_of
from core.model_types import EventStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.openai.rerank import RerankRequest
from core.rerank import ranked, read_scores
from core.schema import ModelType
from core.translate import refuse_effort_without_thinking
from providers.openai_compatible import OpenAICompatibleProvider

from .chat import FAILED, ChatReply, build_request, chat_completion
from .stream import CohereStream

__all__ = ["CohereProvider"]

MAX_TEXTS = 96
"""Texts per ``/v2/embed`` call."""
_EMBED_OWN = frozenset({"model", "input", "encoding_format", "dimensions", "user", "input_type"})
_TOO_LONG = ("too many tokens: total number of tokens in the prompt", "too many tokens: size limit exceeded")
_encode = msgspec.json.Encoder().encode
_decode_reply = msgspec.json.Decoder(ChatReply).decode


class _Vectors(msgspec.Struct):
    float_: list[list[float]] = msgspec.field(name="float")


class _Tokens(msgspec.Struct):
    input_tokens: int | None = None


class _Meta(msgspec.Struct):
    billed_units: _Tokens | None = None


class _Embedded(msgspec.Struct):
    embeddings: _Vectors
    meta: _Meta | None = None


_decode_embedded = msgspec.json.Decoder(_Embedded).decode


class _KeyCheck(msgspec.Struct):
    valid: bool


class CohereProvider(OpenAICompatibleProvider):
    """``api.cohere.com`` unless ``base_url`` says otherwise."""

    default_base_url = "https://api.cohere.com"

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST v2/chat``, translated both ways; a stream is translated event by event."""
        model = self.upstream_model(target)
        vision = target.schema is not None and "vision" in target.schema.features
        refuse_effort_without_thinking(target, raw)
        response = await self._send("v2/chat", _encode(build_request(request, raw, model, vision)), target.timeout_s)
        if request.stream:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                await response.aclose()
                raise self._odd("streamed chat")
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return CohereStream(response, self.context, model, include_usage, self._unfinished)
        reply = await self._read_json(response)
        try:
            answer = _decode_reply(reply.body)
        except msgspec.MsgspecError:
            raise self._odd("chat") from None
        if answer.finish_reason in FAILED:
            raise self._unfinished(answer.finish_reason or "ERROR", None)
        completion = chat_completion(answer, model)
        return JSONReply(_encode(completion), completion.usage)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Cohere's v2 API has no legacy completions."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is a chat model: use /v1/chat/completions.",
                                         param="model", code="unsupported_model_endpoint")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST v2/embed``, in batches of :data:`MAX_TEXTS`."""
        texts = texts_of(request, self.name)
        body: dict[str, Any] = {k: v for k, v in raw.items() if k not in _EMBED_OWN}
        body.update(model=self.upstream_model(target), input_type=raw.get("input_type") or "search_document",
                    embedding_types=["float"])
        if request.dimensions is not None:
            body["output_dimension"] = request.dimensions
        vectors, tokens = await embed_in_batches(
            texts, MAX_TEXTS, lambda part: self._embed_batch({**body, "texts": part}, target))
        return embedding_reply(vectors, self.upstream_model(target), tokens, request.encoding_format)

    async def _embed_batch(self, body: dict[str, Any], target: ModelTarget) -> Vectors:
        reply = await self.post_json("v2/embed", body, target.timeout_s)
        try:
            embedded = _decode_embedded(reply.body)
        except msgspec.MsgspecError:
            raise self._odd("embed") from None
        vectors = embedded.embeddings.float_
        if len(vectors) != len(body["texts"]):
            raise self._odd("embed")
        billed = embedded.meta.billed_units if embedded.meta is not None else None
        return vectors, billed.input_tokens if billed is not None else None

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """``POST v2/rerank``; Cohere bills search units, which price the call."""
        body: dict[str, Any] = {"model": self.upstream_model(target), "query": request.query,
                                "documents": request.texts()}
        if request.limit is not None and request.score_threshold is None:
            body["top_n"] = request.limit
        if "max_tokens_per_doc" in raw:
            body["max_tokens_per_doc"] = raw["max_tokens_per_doc"]
        reply = await self.post_json("v2/rerank", body, target.timeout_s)
        scores, usage = read_scores(reply.body, self.name)
        return ranked(request, scores, target.name, self.name, usage)

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        error = super().error_from(status, headers, content)
        lowered = error.message.lower()
        if status == 400 and any(phrase in lowered for phrase in _TOO_LONG):
            error.code, error.param = "context_length_exceeded", "messages"
        elif status == 404 and lowered.startswith("model '"):
            return errors.ModelNotFoundError(error.message, param="model")
        elif status == 402:
            return errors.ProviderAccountError(f"provider instance '{self.name}' cannot be used until its Cohere "
                                               f"account is paid for: {error.message}")
        elif status == 499:
            return errors.UpstreamError(f"provider instance '{self.name}' cancelled the request: {error.message}")
        return error

    def _unfinished(self, reason: str, detail: str | None) -> errors.ModelRuntimeError:
        """The error for a chat Cohere ended with ``ERROR`` or ``TIMEOUT`` instead of an answer."""
        cls = errors.UpstreamTimeoutError if reason == "TIMEOUT" else errors.UpstreamError
        text = f"provider instance '{self.name}' could not finish the answer ({reason})"
        return cls(f"{text}: {self.redact(detail)}" if detail else text)

    async def validate_credentials(self) -> None:
        """``POST v1/check-api-key``: free, and says whether the key is valid."""
        reply = await self._validated(self.post_json("v1/check-api-key", {}))
        try:
            valid = msgspec.json.decode(reply.body, type=_KeyCheck).valid
        except msgspec.MsgspecError:
            raise self._odd("check-api-key") from None
        if not valid:
            raise errors.CredentialsValidateFailedError(f"Cohere says the API key of '{self.name}' is not valid")

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """One generated token, one embedded word, or one ranked document."""
        model = self.upstream_model(target)
        if target.model_type is ModelType.LLM:
            call = self.post_json("v2/chat", {"model": model, "max_tokens": 1,
                                              "messages": [{"role": "user", "content": "ping"}]})
        elif target.model_type is ModelType.RERANK:
            call = self.post_json("v2/rerank", {"model": model, "query": "ping", "documents": ["ping"]})
        else:
            call = self.post_json("v2/embed", {"model": model, "texts": ["ping"], "input_type": "search_document",
                                               "embedding_types": ["float"]})
        await self._validated(call)

    async def remote_models(self) -> list[str]:
        """Cohere lists models in its own shape; its YAML names the ones this gateway knows."""
        return await Provider.remote_models(self)

    def _odd(self, call: str) -> errors.UpstreamError:
        return errors.UpstreamError(f"provider instance '{self.name}' answered the {call} call in an unknown shape",
                                    code="upstream_invalid_response")
