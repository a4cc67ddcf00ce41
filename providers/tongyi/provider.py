"""Alibaba Cloud DashScope's native API (``dashscope.aliyuncs.com``, or ``dashscope-intl.aliyuncs.com``).

Chat is ``POST api/v1/services/aigc/text-generation/generation``, translated in :mod:`.messages`; a stream asks
for SSE with ``X-DashScope-SSE: enable`` and is translated in :mod:`.stream`. Embeddings are
``.../embeddings/text-embedding/text-embedding`` with ``input.texts`` in batches of :data:`MAX_TEXTS` (the v3
and v4 models take ten a call), ``dimensions`` as ``parameters.dimension`` and ``text_type`` passed through;
rerank is ``.../rerank/text-rerank/text-rerank``. The key goes as a bearer token. Errors: :mod:`.errors`.
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
from core.openai.rerank import RerankRequest, RerankUsage
from core.rerank import ranked
from core.schema import ModelType
from core.translate import expect_stream, refuse_effort_without_thinking
from providers.openai_compatible import OpenAICompatibleProvider

from .errors import error_from_dashscope
from .messages import Generation, build_request, chat_completion
from .stream import TongyiStream

__all__ = ["TongyiProvider"]

GENERATION = "api/v1/services/aigc/text-generation/generation"
EMBEDDING = "api/v1/services/embeddings/text-embedding/text-embedding"
RERANK = "api/v1/services/rerank/text-rerank/text-rerank"
MAX_TEXTS = 10
"""Texts per embedding call."""
VALIDATION_MODEL = "qwen-turbo"
"""The cheapest chat model: the provider check spends one token of it."""
_SSE = {"accept": "text/event-stream", "x-dashscope-sse": "enable"}
_encode = msgspec.json.Encoder().encode
_decode_generation = msgspec.json.Decoder(Generation).decode


class _Embedding(msgspec.Struct):
    text_index: int
    embedding: list[float]


class _Scored(msgspec.Struct):
    index: int
    relevance_score: float


class _Output(msgspec.Struct):
    embeddings: list[_Embedding] = []
    results: list[_Scored] = []


class _Tokens(msgspec.Struct):
    total_tokens: int | None = None


class _Answer(msgspec.Struct):
    output: _Output
    usage: _Tokens | None = None


_decode_answer = msgspec.json.Decoder(_Answer).decode


class TongyiProvider(OpenAICompatibleProvider):
    """``dashscope.aliyuncs.com`` unless ``base_url`` says otherwise (the root, without ``/api/v1``)."""

    default_base_url = "https://dashscope.aliyuncs.com"

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """One generation call; a stream is translated event by event."""
        model = self.upstream_model(target)
        refuse_effort_without_thinking(target, raw)
        body = build_request(request, raw, model)
        if not request.stream:
            reply = await self.post_json(GENERATION, body, target.timeout_s)
            try:
                answer = _decode_generation(reply.body)
            except msgspec.MsgspecError:
                raise self._odd("generation") from None
            completion = chat_completion(answer, model)
            return JSONReply(_encode(completion), completion.usage)
        response = await self._send(GENERATION, _encode(body), target.timeout_s, extra_headers=_SSE)
        await expect_stream(response, "text/event-stream", self.name)
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        return TongyiStream(response, self.context, model, include_usage, self.redact)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """The Qwen models served here are chat models."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is a chat model: use /v1/chat/completions.",
                                         param="model", code="unsupported_model_endpoint")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """Text embeddings in batches of :data:`MAX_TEXTS`, joined in input order."""
        model = self.upstream_model(target)
        parameters: dict[str, Any] = {}
        if request.dimensions is not None:
            parameters["dimension"] = request.dimensions
        if isinstance(raw.get("text_type"), str):
            parameters["text_type"] = raw["text_type"]

        async def batch(part: list[str]) -> Vectors:
            body = {"model": model, "input": {"texts": part}, "parameters": parameters}
            answer = await self._answer(EMBEDDING, body, target)
            found = sorted(answer.output.embeddings, key=lambda e: e.text_index)
            if [e.text_index for e in found] != list(range(len(part))):
                raise self._odd("embedding")
            return [e.embedding for e in found], answer.usage.total_tokens if answer.usage else None

        vectors, tokens = await embed_in_batches(texts_of(request, self.name), MAX_TEXTS, batch)
        return embedding_reply(vectors, model, tokens, request.encoding_format)

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """Text rerank; the documents come back from the request, not the upstream."""
        parameters: dict[str, Any] = {"return_documents": False}
        if request.limit is not None and request.score_threshold is None:
            parameters["top_n"] = request.limit
        body = {"model": self.upstream_model(target), "input": {"query": request.query, "documents": request.texts()},
                "parameters": parameters}
        answer = await self._answer(RERANK, body, target)
        tokens = answer.usage.total_tokens if answer.usage is not None else None
        usage = RerankUsage(prompt_tokens=tokens, total_tokens=tokens) if tokens is not None else None
        return ranked(request, [(r.index, r.relevance_score) for r in answer.output.results], target.name, self.name,
                      usage)

    async def _answer(self, path: str, body: dict[str, Any], target: ModelTarget) -> _Answer:
        reply = await self.post_json(path, body, target.timeout_s)
        try:
            return _decode_answer(reply.body)
        except msgspec.MsgspecError:
            raise self._odd(path.rpartition("/")[2]) from None

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        return error_from_dashscope(self.context, status, headers, content, self.redact)

    async def validate_credentials(self) -> None:
        """One token of :data:`VALIDATION_MODEL` (DashScope's native API lists no models)."""
        await self.validate_model_credentials(ModelTarget(name=VALIDATION_MODEL, model_type=ModelType.LLM))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """The smallest real call to the model: one token, one embedded word, or one ranked document."""
        model = self.upstream_model(target)
        if target.model_type is ModelType.LLM:
            body: dict[str, Any] = {"model": model, "input": {"messages": [{"role": "user", "content": "ping"}]},
                                    "parameters": {"max_tokens": 1, "result_format": "message"}}
            path = GENERATION
        elif target.model_type is ModelType.RERANK:
            body, path = {"model": model, "input": {"query": "ping", "documents": ["ping"]}}, RERANK
        else:
            body, path = {"model": model, "input": {"texts": ["ping"]}}, EMBEDDING
        await self._validated(self.post_json(path, body))

    async def remote_models(self) -> list[str]:
        """DashScope's native API lists no models; its YAML names the ones this gateway knows."""
        return await Provider.remote_models(self)

    def _odd(self, call: str) -> errors.UpstreamError:
        return errors.UpstreamError(f"provider instance '{self.name}' answered the {call} call in an unknown shape",
                                    code="upstream_invalid_response")
