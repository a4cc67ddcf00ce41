"""Moderations (``POST /v1/moderations``)."""

from __future__ import annotations

from .base import WireBase

__all__ = ["ModerationRequest", "ModerationResponse", "ModerationResult"]


class ModerationRequest(WireBase, kw_only=True):
    """One text or a batch."""

    model: str | None = None
    input: str | list[str]


class ModerationResult(WireBase, kw_only=True):
    """The verdict on one input."""

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]


class ModerationResponse(WireBase, kw_only=True):
    """One result per input, in order."""

    id: str
    model: str
    results: list[ModerationResult]
