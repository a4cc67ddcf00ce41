"""A test plug-in for the console: every credential widget type and ``show_on`` rule, over an OpenAI-compatible
server, with predefined models whose rules, prices and deprecation the console shows."""

from providers.openai_compatible import OpenAICompatibleProvider

PROVIDER = OpenAICompatibleProvider
