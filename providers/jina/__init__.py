"""Jina AI: embeddings and rerankers."""

from .provider import JinaProvider

PROVIDER = JinaProvider

__all__ = ["PROVIDER", "JinaProvider"]
