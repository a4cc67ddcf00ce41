"""Chatchat's ``model_providers.yaml``, read as a profile.

Chatchat's file has one top-level key per provider, each with ``provider_credential: {...}`` and
``model_credential: [{model, model_type, model_credentials: {...}}]``, using Dify's provider ids and credential
names (``openai_api_key``, ``openai_api_compatible`` with ``endpoint_url``). A plug-in says how Chatchat names it
in its ``provider.yaml``::

    extra:
      chatchat:
        provider: openai_api_compatible        # Chatchat's id, when it differs from ours
        credentials:                            # renamed, dropped when null, or rewritten:
          endpoint_url: base_url
          mode: null
          openai_api_base: {variable: base_url, append: /v1}

The conversion makes provider instances named after the Chatchat key, so ``/{key}/v1/...`` answers as before.
The provider credential serves the provider's predefined models, as in Chatchat. A model entry wins over it for
its model; when the entry's provider-level credentials (a key or ``endpoint_url`` of its own) differ, it gets an
instance of its own (``key-2``, ...) in the same group, and the first instance no longer offers that model. Every
mistake is reported with the line and the key as written in the Chatchat file.
"""

from __future__ import annotations

from typing import Any

from .registry import ProviderPlugin, Registry
from .validation import Key
from .yamlfile import YAMLSource

__all__ = ["from_chatchat", "is_chatchat"]

_SECTIONS = ("provider_credential", "model_credential")
_Model = tuple[dict[str, Any], Key, dict[str, tuple[Any, Key]]]
"""A model entry without its credentials, where it was written, and its model-level credentials."""
_PROFILE_KEYS = {"server", "providers", "routes", "router", "state"}


def is_chatchat(data: Any) -> bool:
    """Whether parsed YAML looks like Chatchat's file rather than a profile."""
    return (isinstance(data, dict) and bool(data) and not (set(data) & _PROFILE_KEYS)
            and any(isinstance(v, dict) and any(k in v for k in _SECTIONS) for v in data.values()))


def from_chatchat(source: YAMLSource, registry: Registry) -> YAMLSource:
    """The profile equivalent of a Chatchat file, keeping the file's lines and key names for messages."""
    converter = _Converter(source, registry)
    for key, body in source.data.items():
        converter.provider(key, body)
    return YAMLSource(source.file, {"providers": converter.instances}, source.lines, source.env_vars,
                      converter.origin)


class _Converter:
    def __init__(self, source: YAMLSource, registry: Registry) -> None:
        self.source, self.registry = source, registry
        self.instances: list[dict[str, Any]] = []
        self.origin: dict[Key, Key] = {}

    def provider(self, written: Any, body: Any) -> None:
        name = str(written)
        at: Key = (written,)
        plugin = self._plugin(name, at)
        if not isinstance(body, dict):
            raise self.source.error(at, "expected provider_credential and/or model_credential")
        entries = body.get("model_credential") or []
        if not isinstance(entries, list):
            raise self.source.error((*at, "model_credential"), "expected a list of {model, model_type, "
                                                              "model_credentials}")
        aliases = _aliases(plugin)
        provider_vars = _provider_variables(plugin)
        base = self._credentials(body.get("provider_credential"), (*at, "provider_credential"), aliases)
        groups: list[tuple[dict[str, tuple[Any, Key]], list[_Model]]] = []
        if base or not entries:
            groups.append((base, []))
        seen: set[tuple[str, str]] = set()
        for j, entry in enumerate(entries):
            key: Key = (*at, "model_credential", j)
            if not isinstance(entry, dict) or "model_credentials" not in entry:
                continue  # Chatchat skips entries without credentials too
            identity = (str(entry.get("model")), str(entry.get("model_type")))
            if identity in seen:
                raise self.source.error((*key, "model"), f"model '{identity[0]}' ({identity[1]}) is listed twice")
            seen.add(identity)
            given = self._credentials(entry["model_credentials"], (*key, "model_credentials"), aliases)
            own = {k: v for k, v in given.items() if k in provider_vars}
            effective = {**base, **own}
            group = next((g for g in groups if _values(g[0]) == _values(effective)), None)
            if group is None:
                group = (effective, [])
                groups.append(group)
            model = {k: v for k, v in entry.items() if k != "model_credentials"}
            group[1].append((model, key, {k: v for k, v in given.items() if k not in provider_vars}))
        # The provider credential serves the predefined models, except those a model entry gives other credentials.
        elsewhere = {str(m.get("model")) for _, models in groups[1:] for m, *_ in models}
        predefined = sorted({m.model for ms in plugin.models.values() for m in ms} - elsewhere) if base else []
        for g, (credentials, models) in enumerate(groups):
            self._instance(name, g, at, plugin, credentials, models, predefined if g == 0 else [])

    def _instance(self, name: str, g: int, at: Key, plugin: ProviderPlugin,
                  credentials: dict[str, tuple[Any, Key]], models: list[_Model], predefined: list[str]) -> None:
        i = len(self.instances)
        new: Key = ("providers", i)
        self.origin[new] = at
        for variable, (_, original) in credentials.items():
            self.origin[(*new, "credentials", variable)] = original
        entries: list[Any] = list(predefined)
        for model, original, model_credentials in models:
            at_model: Key = (*new, "models", len(entries))
            self.origin[at_model] = original
            self.origin[(*at_model, "credentials")] = (*original, "model_credentials")
            for variable, (_, written) in model_credentials.items():
                self.origin[(*at_model, "credentials", variable)] = written
            entries.append({**model, "credentials": _values(model_credentials)})
        self.instances.append({"name": name if g == 0 else f"{name}-{g + 1}", "group": name,
                               "provider": plugin.id, "credentials": _values(credentials), "models": entries})

    def _plugin(self, name: str, at: Key) -> ProviderPlugin:
        for plugin in self.registry.plugins.values():
            if name in (plugin.id, _chatchat(plugin).get("provider")):
                return plugin
        known = ", ".join(sorted(p.id for p in self.registry.plugins.values()))
        raise self.source.error(at, f"unknown provider '{name}' (known: {known})")

    def _credentials(self, given: Any, at: Key, aliases: dict[str, Any]) -> dict[str, tuple[Any, Key]]:
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise self.source.error(at, "expected a mapping of credentials")
        out: dict[str, tuple[Any, Key]] = {}
        for variable, value in given.items():
            alias = aliases.get(variable, variable)
            if isinstance(alias, dict):  # {variable: base_url, append: /v1}
                suffix = str(alias.get("append", ""))
                if isinstance(value, str) and value and not value.rstrip("/").endswith(suffix):
                    value = value.rstrip("/") + suffix
                alias = alias.get("variable")
            if alias is not None:
                out[str(alias)] = (value, (*at, variable))
        return out


def _chatchat(plugin: ProviderPlugin) -> dict[str, Any]:
    extra = (plugin.schema.extra or {}).get("chatchat")
    return extra if isinstance(extra, dict) else {}


def _aliases(plugin: ProviderPlugin) -> dict[str, Any]:
    aliases = _chatchat(plugin).get("credentials")
    return dict(aliases) if isinstance(aliases, dict) else {}


def _provider_variables(plugin: ProviderPlugin) -> set[str]:
    schema = plugin.schema.provider_credential_schema
    return {f.variable for f in schema.credential_form_schemas} if schema else set()


def _values(credentials: dict[str, tuple[Any, Key]]) -> dict[str, Any]:
    return {k: v for k, (v, _) in credentials.items()}
