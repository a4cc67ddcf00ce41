"""Azure OpenAI: OpenAI's wire format under a resource endpoint, one deployment per model.

Every call goes to ``{endpoint}/openai/deployments/{deployment}/{operation}?api-version={version}`` with the key in
the ``api-key`` header; with ``api_version: v1`` it goes to the versionless ``{endpoint}/openai/v1/{operation}``
with the deployment as ``model``. A model's ``deployment_name`` credential names its deployment (the model name
when empty) and ``base_model_name`` the OpenAI model deployed, whose catalogue entry (context size, parameter
rules, pricing) the model takes. Azure's content filter refuses a prompt with 400 ``content_filter``, which
reaches the client as that, with the filter's verdict in the message. From api-version 2024-09-01-preview on (and
on the v1 API) a chat stream the client asked for without its usage is asked with ``stream_options.include_usage``,
the usage chunk kept from the client, so that streams count in usage, cost and keys' limits as other calls do; not
an "On Your Data" one (``data_sources``), which Azure refuses it, and an instance's ``stream_usage`` credential, if
set, decides instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from core import errors
from core.model_types import ModelTarget, ProviderContext, RawBody
from core.registry import Registry
from core.schema import ConfigurateMethod, ModelSchema, ModelType
from providers.openai_compatible import OpenAICompatibleProvider
from providers.openai_compatible.history import ASSISTANT_FIELDS
from providers.openai_compatible.provider import USER_AGENT

__all__ = ["DEFAULT_API_VERSION", "AzureOpenAIProvider"]

DEFAULT_API_VERSION = "2024-10-21"
"""The latest generally available data-plane version."""
STREAM_OPTIONS_SINCE = "2024-09-01"
"""The first api-version (``2024-09-01-preview``; GA ``2024-10-21``) that takes ``stream_options``: from it on, a
chat stream the client asked for without its usage is asked with it, so that it counts in usage and keys' limits."""


class _Filtered(msgspec.Struct):
    filtered: bool = False
    severity: str | None = None
    detected: bool | None = None


class _Inner(msgspec.Struct):
    content_filter_result: dict[str, _Filtered] = {}


class _Detail(msgspec.Struct):
    innererror: _Inner | None = None


class _ErrorBody(msgspec.Struct):
    error: _Detail


@functools.cache
def _openai_models() -> dict[tuple[ModelType, str], ModelSchema]:
    plugin = Registry.discover()["openai"]
    return {(model_type, m.model): m for model_type, models in plugin.models.items() for m in models}


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """One Azure OpenAI resource."""

    assistant_fields = ASSISTANT_FIELDS | {"context"}
    """OpenAI's, and the ``context`` (citations, intent) of an "On Your Data" answer, which Azure takes back."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        if "stream_usage" not in context.credentials:  # see stream_usage: Azure takes it since 2024-09-01-preview
            self.stream_usage = self._version == "v1" or self._version[:10] >= STREAM_OPTIONS_SINCE

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        return str(credentials.get("endpoint") or "").rstrip("/") + "/openai"

    @classmethod
    def customizable_model_schema(cls, model: str, model_type: ModelType,
                                  credentials: Mapping[str, Any]) -> ModelSchema | None:
        """The catalogue entry of the OpenAI model deployed (``base_model_name``, else the model's own name)."""
        base = str(credentials.get("base_model_name") or model)
        found = _openai_models().get((model_type, base))
        if found is None:
            return super().customizable_model_schema(model, model_type, credentials)
        return msgspec.structs.replace(found, model=model, fetch_from=ConfigurateMethod.CUSTOMIZABLE_MODEL)

    def auth_headers(self) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        api_key = self.context.credentials.get("api_key")
        if api_key:
            headers["api-key"] = str(api_key)
        return headers

    @property
    def _version(self) -> str:
        return str(self.context.credentials.get("api_version") or DEFAULT_API_VERSION)

    def asks_stream_usage(self, path: str, raw: RawBody) -> bool:
        """Chat streams only, and not "On Your Data" ones: Azure refuses ``stream_options`` next to
        ``data_sources``."""
        return self.stream_usage and path == "chat/completions" and "data_sources" not in raw

    def route(self, target: ModelTarget, path: str) -> str:
        if self._version == "v1":
            return f"v1/{path}"
        return f"deployments/{quote(self.upstream_model(target), safe='')}/{path}?api-version={quote(self._version)}"

    def upstream_model(self, target: ModelTarget) -> str:
        """The deployment: the body's ``model`` on the v1 API, the URL's deployment otherwise."""
        return str(target.credentials.get("deployment_name") or target.name)

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        error = super().error_from(status, headers, content)
        if error.code != "content_filter":
            return error
        try:
            detail = msgspec.json.decode(content, type=_ErrorBody).error
        except msgspec.MsgspecError:
            return error
        verdict = detail.innererror.content_filter_result if detail.innererror is not None else {}
        flagged = sorted(name for name, result in verdict.items() if result.filtered)
        if flagged:
            error.message = f"{error.message} (filtered: {', '.join(flagged)})"
        return error

    async def validate_credentials(self) -> None:
        """``GET models``: lists the models the resource offers; authenticated and free."""
        query = "" if self._version == "v1" else f"?api-version={quote(self._version)}"
        await self._validated(self.get_json(("v1/models" if self._version == "v1" else "models") + query))

    async def remote_models(self) -> list[str]:
        """Deployments are not listed by the data-plane API; configure them as models."""
        raise errors.InvalidRequestError(f"provider instance '{self.name}' cannot list its deployments; name them "
                                         "in the profile's models", param="instance", code="not_supported")
