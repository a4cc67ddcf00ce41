"""Jina AI (``api.jina.ai/v1``): embeddings in OpenAI's shape plus Jina's own fields, rerank in the Jina shape.

The client's fields go through (``task``, ``late_chunking``, ``truncate``, ``normalized``), but vectors are always
asked for as floats: Jina's ``embedding_type`` is not OpenAI's ``encoding_format``, so base64 is made here.
"""

from __future__ import annotations

from typing import Any

from core.embeddings import embedding_reply, read_vectors, texts_of
from core.model_types import JSONReply, ModelTarget, RawBody
from core.openai.embeddings import EmbeddingRequest
from providers.openai_compatible import OpenAICompatibleProvider

__all__ = ["JinaProvider"]

_NOT_FORWARDED = frozenset({"encoding_format", "embedding_type", "user"})


class JinaProvider(OpenAICompatibleProvider):
    """``api.jina.ai/v1`` unless ``base_url`` says otherwise."""

    default_base_url = "https://api.jina.ai/v1"
    rerank_fields = {"return_documents": False}

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST embeddings``."""
        texts = texts_of(request, self.name)
        body: dict[str, Any] = {k: v for k, v in raw.items() if k not in _NOT_FORWARDED}
        body.update(model=self.upstream_model(target), input=texts, embedding_type="float")
        reply = await self.post_json("embeddings", body, target.timeout_s)
        vectors, tokens = read_vectors(reply.body, len(texts), self.name)
        return embedding_reply(vectors, self.upstream_model(target), tokens, request.encoding_format)

    async def validate_credentials(self) -> None:
        """Jina has no free authenticated call; one embedded word with its smallest current model."""
        await self._validated(self.post_json("embeddings", {"model": "jina-embeddings-v3", "input": ["ping"]}))
