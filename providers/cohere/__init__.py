"""Cohere: Command (chat), Embed and Rerank through its v2 API."""

from .provider import CohereProvider

PROVIDER = CohereProvider

__all__ = ["PROVIDER", "CohereProvider"]
