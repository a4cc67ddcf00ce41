"""What the console reads from the gateway's own routes: providers and their instances, models, health, moderation.

The catalogue's forms and rules are decoded into the server's own :mod:`core.schema` types (the console and the
gateway ship together, so they speak one catalogue); the views around them ignore fields they do not know.
OpenAI's objects come from :mod:`core.openai`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.openai.models import ModelPricing
from core.schema import CredentialFormSchema, ParameterRule, ProviderSchema

__all__ = ["CallInfo", "Health", "InstanceHealth", "InstanceView", "ModelInfo", "Moderation", "ModerationResult",
           "ProviderView"]


class InstanceView(msgspec.Struct, kw_only=True):
    """A provider instance of the profile; its credentials come masked."""

    name: str
    provider: str
    status: str
    credentials: dict[str, Any] = {}
    models: dict[str, list[str]] = {}
    reason: str | None = None


class ModelInfo(msgspec.Struct, kw_only=True):
    """A catalogue model: predefined, customizable, or only named by the upstream (no type, no rules)."""

    model: str
    model_type: str | None = None
    fetch_from: str | None = None
    features: list[str] = []
    model_properties: dict[str, Any] = {}
    parameter_rules: list[ParameterRule] = []
    pricing: ModelPricing | None = None
    deprecated: bool = False

    @property
    def context_size(self) -> int | None:
        """The context window in tokens, when known."""
        value = self.model_properties.get("context_size")
        return value if isinstance(value, int) else None


class ProviderView(msgspec.Struct, kw_only=True):
    """``GET /v1/providers[/{provider}]``: a provider's ``provider.yaml`` and its instances in this profile."""

    schema: ProviderSchema
    instances: list[InstanceView] = []

    @classmethod
    def decode(cls, data: dict[str, Any]) -> ProviderView:
        """Split the gateway's flat object into the schema and what the gateway adds to it."""
        schema = {k: v for k, v in data.items() if k in ProviderSchema.__struct_fields__}
        return cls(schema=msgspec.convert(schema, ProviderSchema),
                   instances=msgspec.convert(data.get("instances", []), list[InstanceView]))

    @property
    def id(self) -> str:
        """The provider id (``openai``)."""
        return self.schema.provider

    @property
    def label(self) -> str:
        """The provider's English name."""
        return self.schema.label.en_US

    @property
    def credential_fields(self) -> list[CredentialFormSchema]:
        """The provider-level credential form."""
        forms = self.schema.provider_credential_schema
        return forms.credential_form_schemas if forms else []


class InstanceHealth(msgspec.Struct, kw_only=True):
    """One instance in ``/health/ready``."""

    provider: str
    status: str
    reason: str | None = None


class Health(msgspec.Struct, kw_only=True):
    """``/health/ready``: instance states and the deployments cooling down (seconds left)."""

    status: str
    providers: dict[str, InstanceHealth] = {}
    cooldowns: dict[str, float] = {}
    in_flight: int = 0


class ModerationResult(msgspec.Struct, kw_only=True):
    """One input's verdict."""

    flagged: bool
    categories: dict[str, bool] = {}
    category_scores: dict[str, float] = {}


class Moderation(msgspec.Struct, kw_only=True):
    """``POST /v1/moderations``."""

    model: str
    results: list[ModerationResult]


class CallInfo(msgspec.Struct, kw_only=True):
    """Who answered a call and what it cost (from the gateway's ``x-model-runtime-*`` headers)."""

    deployment: str | None = None
    cost: str | None = None
    currency: str | None = None
    elapsed_s: float = 0.0
