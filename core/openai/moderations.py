"""Moderations (``POST /v1/moderations``)."""

from __future__ import annotations

from typing import Any

from .base import WireBase

__all__ = ["ModerationRequest"]


class ModerationRequest(WireBase, kw_only=True):
    """One text, a list of texts, or a list of multimodal parts (``{"type": "text" | "image_url", ...}``)."""

    model: str | None = None
    input: str | list[Any]
