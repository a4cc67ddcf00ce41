"""The history an OpenAI-wire upstream is sent: assistant messages cut to the fields it takes.

A client sends an answer back as it came (the openai SDK does, extra fields and all), and on a route that mixes
providers it may have come from another one: Claude's ``reasoning_content`` and ``thinking_blocks``, OpenRouter's
``reasoning``, the gateway's own ``refusal: null``. Upstreams that refuse fields they do not know (OpenAI's API:
400 ``unknown_parameter``; Mistral's: 422 ``extra_forbidden``) get only theirs; the others get everything but
``thinking_blocks``, the gateway's own field for Anthropic's signed thinking, which no OpenAI-wire API takes.

Roles an upstream does not know are renamed: DeepSeek's API refuses OpenAI's ``developer`` role (400 "unknown
variant `developer`"), which the openai SDK's agents and the Responses API send, and takes it as ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ASSISTANT_FIELDS", "for_upstream"]

ASSISTANT_FIELDS = frozenset({"role", "content", "name", "tool_calls", "function_call", "refusal", "audio"})
"""The fields of an assistant message in OpenAI's chat API (``ChatCompletionAssistantMessageParam``), which refuses
any other."""

_OWN = "thinking_blocks"


def for_upstream(messages: Any, takes: frozenset[str] | None,
                 roles: Mapping[str, str] | None = None) -> list[Any] | None:
    """``messages`` with their assistant messages cut to the fields the upstream ``takes`` (``None``: all but the
    gateway's own) and the ``roles`` it does not know renamed (``{"developer": "system"}``), or ``None`` when none
    needs changing (the client's objects are never changed)."""
    if not isinstance(messages, list):
        return None
    if roles and any(isinstance(m, dict) and m.get("role") in roles for m in messages):
        messages = [{**m, "role": roles[m["role"]]} if isinstance(m, dict) and m.get("role") in roles else m
                    for m in messages]
        return for_upstream(messages, takes) or messages
    if takes is None:
        if all(not _is_answer(m) or _OWN not in m for m in messages):
            return None
        return [{k: v for k, v in m.items() if k != _OWN} if _is_answer(m) else m for m in messages]
    if all(not _is_answer(m) or takes.issuperset(m) for m in messages):
        return None
    return [{k: v for k, v in m.items() if k in takes} if _is_answer(m) else m for m in messages]


def _is_answer(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"
