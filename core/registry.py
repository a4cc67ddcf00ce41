"""The provider registry: every plug-in found under ``providers/`` and through entry points.

A plug-in is a Python package holding ``provider.yaml`` (its :class:`~core.schema.ProviderSchema`),
``models/<model_type>/*.yaml`` (predefined models, ordered by ``_position.yaml``), ``icons/`` and the code; its
``__init__`` exports ``PROVIDER``, the :class:`~core.model_types.Provider` subclass. A plug-in without code (no
``__init__.py``: a hosted service speaking another plug-in's wire format, such as DeepSeek's OpenAI-compatible API)
names the plug-in whose code serves it in ``provider.yaml``: ``extra: {code: openai_compatible}``. Third-party
packages add theirs through the entry-point group ``model_runtime.providers`` (the value is the package's import
name). The YAML is read once at start-up; the code is imported only for providers a profile uses.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

import msgspec

from .model_types import Provider
from .parameters import TEMPLATES, resolve_rule
from .schema import ModelSchema, ModelType, ProviderSchema
from .yamlfile import ConfigError, load_yaml, to_struct

__all__ = ["ENTRY_POINT_GROUP", "ProviderPlugin", "Registry"]

ENTRY_POINT_GROUP = "model_runtime.providers"


class ProviderPlugin(msgspec.Struct, frozen=True, kw_only=True):
    """One provider plug-in: its schema, predefined models and where its code lives."""

    package: str
    directory: Path
    schema: ProviderSchema
    models: dict[ModelType, list[ModelSchema]]

    @property
    def id(self) -> str:
        """The provider id used in profiles (``provider: openai``)."""
        return self.schema.provider

    def predefined(self, model_type: ModelType, name: str) -> ModelSchema | None:
        """The predefined model of that type and name, if any."""
        return next((m for m in self.models.get(model_type, []) if m.model == name), None)

    def provider_class(self) -> type[Provider]:
        """Import the plug-in's code and return its ``PROVIDER`` class."""
        module = importlib.import_module(self.package)
        cls = getattr(module, "PROVIDER", None)
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise TypeError(f"provider package {self.package} does not export PROVIDER (a Provider subclass)")
        return cls


class Registry:
    """All provider plug-ins by id, in ``_position.yaml`` order."""

    def __init__(self, plugins: list[ProviderPlugin]) -> None:
        self.plugins = {p.id: p for p in plugins}

    def __contains__(self, provider_id: str) -> bool:
        return provider_id in self.plugins

    def __getitem__(self, provider_id: str) -> ProviderPlugin:
        return self.plugins[provider_id]

    @classmethod
    def discover(cls) -> Registry:
        """Scan every ``providers/`` folder on ``sys.path`` and the ``model_runtime.providers`` entry points."""
        packages: list[tuple[str, Path]] = []
        # `providers` is a namespace package: a `providers/` folder anywhere on sys.path adds its plug-ins.
        spec = importlib.util.find_spec("providers")
        roots = list(dict.fromkeys(Path(p).resolve() for p in (spec.submodule_search_locations or []))) if spec else []
        for root in roots:
            order = _position(root)
            found = sorted((d for d in root.iterdir() if (d / "provider.yaml").is_file()),
                           key=lambda d: (order.get(d.name, len(order)), d.name))
            packages += [(f"providers.{d.name}", d) for d in found]
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            ep_spec = importlib.util.find_spec(ep.value)
            if ep_spec and ep_spec.submodule_search_locations:
                packages.append((ep.value, Path(next(iter(ep_spec.submodule_search_locations)))))
        return cls([load_plugin(package, directory) for package, directory in packages])


def load_plugin(package: str, directory: Path) -> ProviderPlugin:
    """Read one plug-in's YAML files."""
    source = load_yaml(directory / "provider.yaml")
    schema = to_struct(source, source.data, ProviderSchema)
    if schema.provider != directory.name and package.startswith("providers."):
        raise source.error(("provider",), f"must equal the folder name '{directory.name}'")
    if not (directory / "__init__.py").is_file():
        code = (schema.extra or {}).get("code")
        if not isinstance(code, str) or not (directory.parent / code / "__init__.py").is_file():
            raise source.error(("extra", "code"), "a plug-in without __init__.py must name the plug-in whose code "
                                                  "serves it (a sibling folder with __init__.py)")
        package = f"{package.rpartition('.')[0]}.{code}"
    models: dict[ModelType, list[ModelSchema]] = {}
    models_dir = directory / "models"
    for type_dir in sorted(models_dir.iterdir()) if models_dir.is_dir() else []:
        if not type_dir.is_dir():
            continue
        model_type = ModelType.parse(type_dir.name)
        order = _position(type_dir)
        loaded = [_load_model(path, model_type) for path in type_dir.glob("*.yaml") if path.name[0] != "_"]
        models[model_type] = sorted(loaded, key=lambda m: (order.get(m.model, len(order)), m.model))
    return ProviderPlugin(package=package, directory=directory, schema=schema, models=models)


def _load_model(path: Path, model_type: ModelType) -> ModelSchema:
    source = load_yaml(path)
    model = to_struct(source, source.data, ModelSchema)
    if model.model_type is not model_type:
        raise source.error(("model_type",), f"is {model.model_type} but the file is under {model_type}/")
    rules = []
    for i, rule in enumerate(model.parameter_rules):
        if rule.use_template is not None and rule.use_template not in TEMPLATES:
            raise source.error(("parameter_rules", i, "use_template"),
                               f"unknown template '{rule.use_template}' (known: {', '.join(TEMPLATES)})")
        rules.append(resolve_rule(rule))
        if rules[-1].type is None:
            raise source.error(("parameter_rules", i), "needs a type or a use_template")
    return msgspec.structs.replace(model, parameter_rules=rules)


def _position(directory: Path) -> dict[str, int]:
    path = directory / "_position.yaml"
    if not path.is_file():
        return {}
    source = load_yaml(path)
    if not isinstance(source.data, list) or not all(isinstance(n, str) for n in source.data):
        raise ConfigError(source.file, 1, "", "must be a list of names")
    return {name: i for i, name in enumerate(source.data)}
