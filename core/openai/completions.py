"""Legacy completions (``POST /v1/completions``)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .base import WireBase
from .chat import StreamOptions
from .usage import Usage

__all__ = ["Completion", "CompletionChoice", "CompletionRequest"]

# One prompt, or a batch of prompts or of token-id lists (msgspec allows one array type per union).
Prompt = str | list[str | int | list[int]]


class CompletionRequest(WireBase):
    """The request; fields not listed here are kept in the raw body and forwarded."""

    model: str
    prompt: Prompt
    best_of: int | None = None
    echo: bool | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = None
    max_tokens: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None


class CompletionChoice(msgspec.Struct, kw_only=True):
    """One generated text."""

    text: str
    index: int
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None


class Completion(WireBase, kw_only=True):
    """The response, and (with ``object`` the same) each stream chunk."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
