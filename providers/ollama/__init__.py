"""Ollama through its native API (``/api/chat``, ``/api/embed``), translated to and from OpenAI's."""

from .provider import OllamaProvider

PROVIDER = OllamaProvider

__all__ = ["PROVIDER", "OllamaProvider"]
