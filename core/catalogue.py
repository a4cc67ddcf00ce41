"""What the catalogue routes show: providers, their models and instances, and the effective profile, masked.

Everything is built from the registry's Structs and the loaded profile, so the catalogue can never disagree with
what the gateway serves. Secret-input credentials are masked (``sk-...abcd``) and URL passwords hidden wherever
they appear; nothing here returns a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .profile import InstanceSpec, LoadedProfile
from .registry import ProviderPlugin
from .schema import ModelSchema, ModelType, ProviderSchema
from .secrets import mask, mask_url

__all__ = ["instance_view", "masked_credentials", "model_view", "profile_view", "provider_view",
           "workspace_models", "workspace_providers"]

def masked_credentials(schema: ProviderSchema, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Credentials for display: secret inputs as ``sk-...abcd``, passwords in URLs as ``****``."""
    secret = schema.secret_variables()
    out: dict[str, Any] = {}
    for key, value in credentials.items():
        if key in secret and value:
            out[key] = mask(str(value))
        else:
            out[key] = mask_url(value) if isinstance(value, str) else value
    return out


def instance_view(spec: InstanceSpec) -> dict[str, Any]:
    """A configured instance: status, masked credentials, enabled models by type."""
    view: dict[str, Any] = {
        "name": spec.name,
        "provider": spec.plugin.id,
        "status": "ready" if spec.not_configured is None else "not_configured",
        "credentials": masked_credentials(spec.plugin.schema, spec.credentials),
        "models": {str(t): list(by_name) for t, by_name in spec.models.items()},
        "any_model": spec.any_model,
    }
    if spec.not_configured is not None:
        view["reason"] = spec.not_configured
    return view


def provider_view(plugin: ProviderPlugin, instances: list[InstanceSpec], *, detail: bool) -> dict[str, Any]:
    """A provider as its ``provider.yaml`` spells it, with its instances in this profile (and models, in detail)."""
    view: dict[str, Any] = msgspec.to_builtins(plugin.schema)
    view["instances"] = [instance_view(s) for s in instances if s.plugin.id == plugin.id]
    if detail:
        view["models"] = {str(t): [model_view(m) for m in models] for t, models in plugin.models.items()}
    return view


def model_view(model: ModelSchema) -> dict[str, Any]:
    """A predefined model as its YAML spells it, parameter rules completed from their templates."""
    view: dict[str, Any] = msgspec.to_builtins(model)
    view.setdefault("fetch_from", "predefined-model")
    return view


def profile_view(loaded: LoadedProfile) -> dict[str, Any]:
    """The effective profile (environment substituted, defaults filled) with every secret masked."""
    view: dict[str, Any] = msgspec.to_builtins(loaded.profile)
    server = view.setdefault("server", {})
    server["api_keys"] = [mask(k) for k in loaded.profile.server.api_keys if k]
    for key in server.get("keys", []):
        key["key"] = mask(key["key"])
    if isinstance(view.get("state"), str):
        view["state"] = mask_url(view["state"])
    elif isinstance(view.get("state"), dict) and "url" in view["state"]:
        view["state"]["url"] = mask_url(view["state"]["url"])
    for entry, config in zip(view.get("providers", []), loaded.profile.providers, strict=True):
        schema = loaded.registry[config.provider].schema
        instance = loaded.instances.get(config.name or config.provider)
        filled = instance.credentials if instance is not None else config.credentials  # form defaults filled
        entry["credentials"] = masked_credentials(schema, filled)
        for model in entry.get("models", []):
            if isinstance(model, dict) and "credentials" in model:
                model["credentials"] = masked_credentials(schema, model["credentials"])
    return view


def workspace_providers(loaded: LoadedProfile) -> list[dict[str, Any]]:
    """``GET /workspaces/current/model-providers`` as Chatchat answered it: one entry per provider key (group)."""
    out = []
    for group, specs in _groups(loaded).items():
        view: dict[str, Any] = msgspec.to_builtins(specs[0].plugin.schema)
        view.pop("extra", None)
        view["provider"] = group
        view["preferred_provider_type"] = "custom"
        view["custom_configuration"] = {"status": _status(specs)}
        view["system_configuration"] = {"enabled": False, "current_quota_type": None, "quota_configurations": []}
        out.append(view)
    return out


def workspace_models(loaded: LoadedProfile, model_type: ModelType) -> list[dict[str, Any]]:
    """``GET /workspaces/current/models/model-types/{model_type}``: each provider key with its models of that type
    (deprecated ones left out, providers without any omitted), as Chatchat answered it."""
    out = []
    for group, specs in _groups(loaded).items():
        models: dict[str, dict[str, Any]] = {}
        for spec in specs:
            for name, target in spec.models.get(model_type, {}).items():
                schema = target.schema
                if name in models or (schema is not None and schema.deprecated):
                    continue
                models[name] = {
                    "model": name,
                    "label": msgspec.to_builtins(schema.label) if schema and schema.label else {"en_US": name},
                    "model_type": str(model_type),
                    "features": (schema.features or None) if schema else None,
                    "fetch_from": str(schema.fetch_from or "predefined-model") if schema else "customizable-model",
                    "model_properties": schema.model_properties if schema else {},
                    "deprecated": False,
                    "status": "active" if spec.not_configured is None else "no-configure",
                }
        if models:
            provider = specs[0].plugin.schema
            out.append({"provider": group, "label": msgspec.to_builtins(provider.label),
                        "icon_small": msgspec.to_builtins(provider.icon_small) if provider.icon_small else None,
                        "icon_large": msgspec.to_builtins(provider.icon_large) if provider.icon_large else None,
                        "status": "active" if any(m["status"] == "active" for m in models.values())
                        else "no-configure",
                        "models": list(models.values())})
    return out


def _groups(loaded: LoadedProfile) -> dict[str, list[InstanceSpec]]:
    groups: dict[str, list[InstanceSpec]] = {}
    for spec in loaded.instances.values():
        groups.setdefault(spec.group, []).append(spec)
    return groups


def _status(specs: list[InstanceSpec]) -> str:
    return "active" if any(s.not_configured is None for s in specs) else "no-configure"
