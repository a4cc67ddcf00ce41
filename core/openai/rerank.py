"""Rerank, in the Cohere/Jina shape that Dify, Xinference, vLLM and llama.cpp serve."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .base import WireBase

__all__ = ["RerankDocument", "RerankRequest", "RerankResponse", "RerankResult", "RerankUsage"]


class RerankDocument(WireBase):
    """A document given as an object."""

    text: str


class RerankRequest(WireBase, kw_only=True):
    """``POST /v1/rerank`` (also ``/rerank`` and ``/v2/rerank``, where Cohere's and Jina's clients send it).

    ``top_k`` is Voyage's name for ``top_n``. Documents come back with their results unless ``return_documents`` is
    false (Jina's default; Cohere's v2 API never returns them, and its client ignores them).
    """

    model: str
    query: str
    documents: list[str | RerankDocument]
    top_n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    top_k: Annotated[int, msgspec.Meta(ge=1)] | None = None
    return_documents: bool | None = None
    score_threshold: float | None = None

    def texts(self) -> list[str]:
        """The documents as plain strings, in order."""
        return [d if isinstance(d, str) else d.text for d in self.documents]

    @property
    def limit(self) -> int | None:
        """How many results the client wants at most."""
        return self.top_n if self.top_n is not None else self.top_k


class RerankResult(WireBase, kw_only=True):
    """One scored document; ``index`` points into the request's ``documents``."""

    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankUsage(WireBase, kw_only=True):
    """What the upstream billed: tokens, or Cohere's search units."""

    prompt_tokens: int | None = None
    total_tokens: int | None = None
    search_units: int | None = None


class RerankResponse(WireBase, kw_only=True):
    """Results sorted by score, best first."""

    id: str
    object: Literal["list"]
    model: str
    results: list[RerankResult]
    usage: RerankUsage | None = None
