"""Text Embeddings Inference: ``POST /v1/embeddings`` (its OpenAI route) and ``POST /rerank`` (its own shape).

A TEI server runs one model, so the model name is the gateway's only; ``GET /info`` proves the server answers.
Vectors are asked for as floats and base64-encoded here when the client wants base64.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from core import errors
from core.embeddings import embedding_reply, read_vectors, texts_of
from core.model_types import JSONReply, ModelTarget, RawBody
from core.openai.embeddings import EmbeddingRequest
from core.openai.rerank import RerankRequest
from core.rerank import ranked
from core.schema import ModelType
from providers.openai_compatible import OpenAICompatibleProvider

__all__ = ["TEIProvider"]


class _Score(msgspec.Struct):
    index: int
    score: float


_decode_scores = msgspec.json.Decoder(list[_Score]).decode


class TEIProvider(OpenAICompatibleProvider):
    """One TEI server."""

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        return str(credentials.get("server_url") or "")

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST v1/embeddings``."""
        texts = texts_of(request, self.name)
        body: dict[str, Any] = {"model": self.upstream_model(target), "input": texts, "encoding_format": "float"}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        reply = await self.post_json("v1/embeddings", body, target.timeout_s)
        vectors, tokens = read_vectors(reply.body, len(texts), self.name)
        return embedding_reply(vectors, self.upstream_model(target), tokens, request.encoding_format)

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """``POST rerank``: every document scored (TEI has no ``top_n``; the gateway cuts the list)."""
        body: dict[str, Any] = {"query": request.query, "texts": request.texts(), "return_text": False,
                                "raw_scores": False, "truncate": bool(raw.get("truncate", True))}
        reply = await self.post_json("rerank", body, target.timeout_s)
        try:
            scores = _decode_scores(reply.body)
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered the rerank call in an unknown "
                                       "shape", code="upstream_invalid_response") from None
        return ranked(request, [(s.index, s.score) for s in scores], target.name, self.name)

    async def validate_credentials(self) -> None:
        """``GET info``."""
        await self._validated(self.get_json("info"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """One embedded word, or one ranked document."""
        if target.model_type is ModelType.RERANK:
            call = self.post_json("rerank", {"query": "ping", "texts": ["ping"]})
        else:
            call = self.post_json("v1/embeddings", {"model": target.name, "input": ["ping"]})
        await self._validated(call)
