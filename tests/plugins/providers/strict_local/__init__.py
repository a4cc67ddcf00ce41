"""A test plug-in: an OpenAI-compatible server whose one predefined model declares strict parameter rules."""

from providers.openai_compatible import OpenAICompatibleProvider

PROVIDER = OpenAICompatibleProvider
