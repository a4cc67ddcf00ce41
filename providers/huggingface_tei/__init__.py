"""Hugging Face Text Embeddings Inference."""

from .provider import TEIProvider

PROVIDER = TEIProvider

__all__ = ["PROVIDER", "TEIProvider"]
