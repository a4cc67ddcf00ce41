"""Voyage AI (``api.voyageai.com/v1``): OpenAI's embeddings translated to Voyage's fields, and its rerank.

``dimensions`` becomes ``output_dimension``; ``input_type`` (``query`` / ``document``), ``truncation`` and
``output_dtype`` go through; at most 1,000 texts go in one call, so larger batches are split. Rerank sends
``top_k`` and reads Voyage's ``data`` list.
"""

from __future__ import annotations

from typing import Any

from core.embeddings import Vectors, embed_in_batches, embedding_reply, read_vectors, texts_of
from core.model_types import JSONReply, ModelTarget, RawBody
from core.openai.embeddings import EmbeddingRequest
from core.openai.rerank import RerankRequest
from core.rerank import ranked, read_scores
from providers.openai_compatible import OpenAICompatibleProvider

__all__ = ["VoyageProvider"]

MAX_TEXTS = 1000
_FORWARDED = ("input_type", "truncation")


class VoyageProvider(OpenAICompatibleProvider):
    """``api.voyageai.com/v1`` unless ``base_url`` says otherwise."""

    default_base_url = "https://api.voyageai.com/v1"

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST embeddings``, in batches of :data:`MAX_TEXTS`."""
        texts = texts_of(request, self.name)
        body: dict[str, Any] = {k: raw[k] for k in _FORWARDED if k in raw}
        body["model"] = self.upstream_model(target)
        if request.dimensions is not None:
            body["output_dimension"] = request.dimensions

        async def embed_part(part: list[str]) -> Vectors:
            reply = await self.post_json("embeddings", {**body, "input": part}, target.timeout_s)
            return read_vectors(reply.body, len(part), self.name)

        vectors, tokens = await embed_in_batches(texts, MAX_TEXTS, embed_part)
        return embedding_reply(vectors, self.upstream_model(target), tokens, request.encoding_format)

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """``POST rerank`` with Voyage's ``top_k``."""
        body: dict[str, Any] = {"model": self.upstream_model(target), "query": request.query,
                                "documents": request.texts(), "return_documents": False}
        if "truncation" in raw:
            body["truncation"] = raw["truncation"]
        if request.limit is not None and request.score_threshold is None:
            body["top_k"] = request.limit
        reply = await self.post_json("rerank", body, target.timeout_s)
        scores, usage = read_scores(reply.body, self.name)
        return ranked(request, scores, target.name, self.name, usage)

    async def validate_credentials(self) -> None:
        """Voyage has no free authenticated call; one embedded word with its smallest current model."""
        await self._validated(self.post_json("embeddings", {"model": "voyage-3.5-lite", "input": ["ping"]}))
