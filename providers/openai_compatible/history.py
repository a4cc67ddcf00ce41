"""The history an OpenAI-wire upstream is sent: assistant messages cut to the fields it takes.

A client sends an answer back as it came (the openai SDK does, extra fields and all), and on a route that mixes
providers it may have come from another one: Claude's ``reasoning_content`` and ``thinking_blocks``, OpenRouter's
``reasoning``, the gateway's own ``refusal: null``. Upstreams that refuse fields they do not know (OpenAI's API:
400 ``unknown_parameter``; Mistral's: 422 ``extra_forbidden``) get only theirs; the others get everything but
``thinking_blocks``, the gateway's own field for Anthropic's signed thinking, which no OpenAI-wire API takes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ASSISTANT_FIELDS", "for_upstream"]

ASSISTANT_FIELDS = frozenset({"role", "content", "name", "tool_calls", "function_call", "refusal", "audio"})
"""The fields of an assistant message in OpenAI's chat API (``ChatCompletionAssistantMessageParam``), which refuses
any other."""

_OWN = "thinking_blocks"


def for_upstream(messages: Any, takes: frozenset[str] | None) -> list[Any] | None:
    """``messages`` with their assistant messages cut to the fields the upstream ``takes`` (``None``: all but the
    gateway's own), or ``None`` when none needs cutting (the client's objects are never changed)."""
    if not isinstance(messages, list):
        return None
    if takes is None:
        if all(not _is_answer(m) or _OWN not in m for m in messages):
            return None
        return [{k: v for k, v in m.items() if k != _OWN} if _is_answer(m) else m for m in messages]
    if all(not _is_answer(m) or takes.issuperset(m) for m in messages):
        return None
    return [{k: v for k, v in m.items() if k in takes} if _is_answer(m) else m for m in messages]


def _is_answer(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"
