"""Anthropic: Claude models through the Messages API, translated to and from OpenAI's chat completions."""

from .provider import AnthropicProvider

PROVIDER = AnthropicProvider

__all__ = ["PROVIDER", "AnthropicProvider"]
