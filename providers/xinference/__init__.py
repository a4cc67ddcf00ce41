"""Xorbits Inference: launched models by model UID, over its OpenAI-style routes."""

from .provider import XinferenceProvider

PROVIDER = XinferenceProvider

__all__ = ["PROVIDER", "XinferenceProvider"]
