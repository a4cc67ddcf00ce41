"""Token usage, shared by chat, completions and embeddings."""

from __future__ import annotations

from .base import WireBase

__all__ = ["CompletionTokensDetails", "PromptTokensDetails", "Usage"]


class PromptTokensDetails(WireBase):
    """Breakdown of prompt tokens."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(WireBase):
    """Breakdown of completion tokens."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class Usage(WireBase):
    """Usage as OpenAI reports it; ``completion_tokens`` is absent for embeddings."""

    prompt_tokens: int = 0
    completion_tokens: int | None = None
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
