"""OpenAI's hosted API."""

from .provider import OpenAIProvider

PROVIDER = OpenAIProvider

__all__ = ["PROVIDER", "OpenAIProvider"]
