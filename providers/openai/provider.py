"""OpenAI's hosted API: the OpenAI wire format with a default base URL and the organization header."""

from __future__ import annotations

from urllib.parse import quote

from core.model_types import ModelTarget
from providers.openai_compatible import OpenAICompatibleProvider
from providers.openai_compatible.history import ASSISTANT_FIELDS

__all__ = ["OpenAIProvider"]


class OpenAIProvider(OpenAICompatibleProvider):
    """``api.openai.com`` unless ``base_url`` says otherwise."""

    default_base_url = "https://api.openai.com/v1"
    stream_usage = True
    assistant_fields = ASSISTANT_FIELDS

    def auth_headers(self) -> dict[str, str]:
        headers = super().auth_headers()
        organization = self.context.credentials.get("organization")
        if organization:
            headers["openai-organization"] = str(organization)
        return headers

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """``GET models/{model}``: proves key and model access without spending a token."""
        await self._validated(self.get_json(f"models/{quote(target.name, safe='')}"))
