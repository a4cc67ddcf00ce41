"""Zhipu AI's open platform (``open.bigmodel.cn/api/paas/v4``): OpenAI's wire format with Zhipu's own errors.

Chat completions go through as the client sent them (Zhipu reads ``thinking``, ``do_sample``, ``request_id`` and
``user_id`` besides OpenAI's fields) and come back untouched but for two finish reasons (:mod:`.finish`).
Embeddings go out in batches of :data:`MAX_TEXTS` (embedding-3 takes at most 64 inputs a call), as floats;
base64 is encoded here. Zhipu has no legacy completions and no model list. The v4 API takes the API key
(``<id>.<secret>``) itself as the bearer token, so no JWT is signed here.

Errors carry business codes that say more than the status: :mod:`.errors` maps them.
"""

from __future__ import annotations

from typing import Any

import httpx

from core import errors
from core.embeddings import Vectors, embed_in_batches, embedding_reply, read_vectors, texts_of
from core.model_types import EventStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from providers.openai_compatible import OpenAICompatibleProvider

from .errors import error_from_zhipu
from .finish import ZhipuStream, checked_reply

__all__ = ["ZhipuAIProvider"]

MAX_TEXTS = 64
"""Inputs per ``embeddings`` call."""
_EMBED_OWN = frozenset({"input", "encoding_format"})
VALIDATION_MODEL = "glm-4-flash"
"""Free of charge: the provider check spends nothing."""


class ZhipuAIProvider(OpenAICompatibleProvider):
    """``open.bigmodel.cn`` unless ``base_url`` says otherwise."""

    default_base_url = "https://open.bigmodel.cn/api/paas/v4"

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        answer = await super().chat(target, request, raw)
        if isinstance(answer, JSONReply):
            return checked_reply(answer, self.name)
        return ZhipuStream(answer, self.name)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Zhipu has no legacy completions."""
        raise errors.InvalidRequestError(f"Model '{request.model}' is a chat model: use /v1/chat/completions.",
                                         param="model", code="unsupported_model_endpoint")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST embeddings`` in batches of :data:`MAX_TEXTS`, joined in input order."""
        body: dict[str, Any] = {k: v for k, v in self.with_model(raw, target).items() if k not in _EMBED_OWN}

        async def batch(part: list[str]) -> Vectors:
            reply = await self.post_json(self.route(target, "embeddings"), {**body, "input": part}, target.timeout_s)
            return read_vectors(reply.body, len(part), self.name)

        vectors, tokens = await embed_in_batches(texts_of(request, self.name), MAX_TEXTS, batch)
        return embedding_reply(vectors, self.upstream_model(target), tokens, request.encoding_format)

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        return error_from_zhipu(self.context, status, headers, content, self.redact)

    async def validate_credentials(self) -> None:
        """One token from :data:`VALIDATION_MODEL` (Zhipu lists no models to ask instead)."""
        body = {"model": VALIDATION_MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
        await self._validated(self.post_json("chat/completions", body))

    async def remote_models(self) -> list[str]:
        """Zhipu's v4 API lists no models; its YAML names the ones this gateway knows."""
        return await Provider.remote_models(self)
