"""Embeddings (``POST /v1/embeddings``)."""

from __future__ import annotations

from typing import Literal

from .base import WireBase
from .usage import Usage

__all__ = ["Embedding", "EmbeddingInput", "EmbeddingRequest", "EmbeddingResponse"]

# One text, or a batch of texts or of token-id lists (msgspec allows one array type per union).
EmbeddingInput = str | list[str | int | list[int]]


class EmbeddingRequest(WireBase):
    """The request: one input or a batch; the response has one vector per input, in order."""

    model: str
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None
    user: str | None = None


class Embedding(WireBase, kw_only=True):
    """One vector: floats, or base64 of little-endian float32 when asked for."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(WireBase, kw_only=True):
    """The response."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage | None = None
