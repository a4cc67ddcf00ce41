"""What the end-to-end tests of the native chat providers ask with: two tools and a one-message prompt."""

from __future__ import annotations

from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

__all__ = ["CLOCK", "WEATHER", "ask"]

WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "weather", "description": "Weather in a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CLOCK: ChatCompletionFunctionToolParam = {
    "type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}}


def ask(text: str) -> list[ChatCompletionMessageParam]:
    """One user message."""
    return [{"role": "user", "content": text}]
