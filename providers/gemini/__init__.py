"""Google Gemini: chat and embeddings through the Generative Language API, translated to and from OpenAI's."""

from .provider import GeminiProvider

PROVIDER = GeminiProvider

__all__ = ["PROVIDER", "GeminiProvider"]
