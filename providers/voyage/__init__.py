"""Voyage AI: embeddings and rerankers."""

from .provider import VoyageProvider

PROVIDER = VoyageProvider

__all__ = ["PROVIDER", "VoyageProvider"]
