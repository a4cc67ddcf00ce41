"""Servers that speak OpenAI's wire format: vLLM, llama.cpp, Ollama, LM Studio, Xinference, ..."""

from .provider import OpenAICompatibleProvider

PROVIDER = OpenAICompatibleProvider

__all__ = ["PROVIDER", "OpenAICompatibleProvider"]
