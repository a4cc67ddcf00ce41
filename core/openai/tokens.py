"""``POST /v1/tokens/count``: how many tokens a chat request or an input takes for a model."""

from __future__ import annotations

from typing import Literal

from .base import WireBase
from .chat import ChatMessage, Tool

__all__ = ["TokenCountRequest", "TokenCountResponse"]


class TokenCountRequest(WireBase, kw_only=True):
    """Either ``messages`` (with ``tools``) as for chat, or ``input`` as for embeddings and completions."""

    model: str
    messages: list[ChatMessage] | None = None
    tools: list[Tool] | None = None
    input: str | list[str | int | list[int]] | None = None


class TokenCountResponse(WireBase, kw_only=True):
    """The count; ``estimated`` when the model's tokenizer is unknown or parts cannot be counted exactly."""

    object: Literal["tokens.count"] = "tokens.count"
    model: str
    tokens: int
    encoding: str | None
    estimated: bool
    context_size: int | None = None
