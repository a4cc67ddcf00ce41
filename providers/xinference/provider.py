"""Xinference: every model type over its OpenAI-style routes under ``{server_url}/v1``, addressed by model UID.

A model is named in the profile as clients should call it; its ``model_uid`` credential says which launched model
answers (the name itself when empty). ``GET /v1/models/{uid}`` proves a model is launched without running it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from core.model_types import ModelTarget
from providers.openai_compatible import OpenAICompatibleProvider

__all__ = ["XinferenceProvider"]


class XinferenceProvider(OpenAICompatibleProvider):
    """A Xinference server."""

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        return str(credentials.get("server_url") or "").rstrip("/") + "/v1"

    def upstream_model(self, target: ModelTarget) -> str:
        return str(target.credentials.get("model_uid") or target.name)

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """``GET models/{uid}``: the model is launched."""
        await self._validated(self.get_json(f"models/{quote(self.upstream_model(target), safe='')}"))
