"""Rerank, in the Cohere/Jina shape that Dify, Xinference, vLLM and llama.cpp serve."""

from __future__ import annotations

from .base import WireBase

__all__ = ["RerankDocument", "RerankRequest", "RerankResponse", "RerankResult"]


class RerankDocument(WireBase):
    """A document given as an object."""

    text: str


class RerankRequest(WireBase, kw_only=True):
    """``POST /v1/rerank``."""

    model: str
    query: str
    documents: list[str | RerankDocument]
    top_n: int | None = None
    return_documents: bool | None = None
    score_threshold: float | None = None


class RerankResult(WireBase, kw_only=True):
    """One scored document; ``index`` points into the request's ``documents``."""

    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankResponse(WireBase, kw_only=True):
    """Results sorted by score, best first."""

    id: str
    model: str
    results: list[RerankResult]
