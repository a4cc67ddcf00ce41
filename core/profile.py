"""The profile: the only configuration, read from YAML once at start-up and checked completely.

``load_profile(path)`` substitutes ``${VAR}`` / ``${VAR:-default}`` from the environment, converts the YAML into
the Structs below, then checks it against the provider registry: plug-ins exist, credentials match their forms,
models exist, route targets resolve. Every mistake is reported with file, line and key
(``profiles/x.yaml:14: providers[1].credentials.api_key: required by provider 'anthropic'``), all of them at
once. A required credential that is *present but empty* (``${OPENAI_API_KEY:-}`` with the variable unset) is not a
mistake: the instance loads as "not configured" and its calls answer 503 naming the variable to set.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from .chatchat import from_chatchat, is_chatchat
from .credentials import CredentialValueError, check_credentials
from .model_types import ModelTarget
from .registry import ProviderPlugin, Registry
from .schema import ConfigBase, ConfigurateMethod, ModelType
from .server_config import Positive, PositiveInt, ServerConfig, StateConfig
from .yamlfile import ConfigError, Key, YAMLSource, format_key, load_yaml, to_struct

__all__ = [
    "DeploymentConfig",
    "InstanceSpec",
    "LoadedProfile",
    "ModelEntry",
    "Profile",
    "ProfileError",
    "ProviderConfig",
    "RouteConfig",
    "RouteSpec",
    "RouteTarget",
    "RouterConfig",
    "load_profile",
]

RESERVED_NAMES = frozenset({"v1", "workspaces", "schema", "health", "metrics"})
"""Names an instance cannot take: ``/{name}/v1/...`` must not collide with the gateway's own routes."""
_INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

class ModelEntry(ConfigBase, frozen=True, kw_only=True):
    """A customizable model of an instance: its type and model-level credentials."""

    model: str
    model_type: ModelType
    credentials: dict[str, Any] = {}


class ProviderConfig(ConfigBase, frozen=True, kw_only=True):
    """One provider instance; ``models: ["*"]`` (the default) enables every predefined model."""

    provider: str
    name: str | None = None
    group: str | None = None
    """Also answer under ``/{group}/v1/...`` (instances converted from one Chatchat provider share its key)."""
    credentials: dict[str, Any] = {}
    models: list[str | ModelEntry] = msgspec.field(default_factory=lambda: ["*"])


class DeploymentConfig(ConfigBase, frozen=True, kw_only=True):
    """One target of a route: ``<instance>/<model>`` with a relative weight, and optionally its own upstream
    timeout and parameter overrides (``params: {temperature: 0.2}`` replaces what the client sent)."""

    target: str
    weight: Positive = 1.0
    timeout_s: Positive | None = None
    params: dict[str, Any] = {}
    rpm: PositiveInt | None = None
    """Requests per minute this deployment takes; the router skips it while saturated."""
    tpm: PositiveInt | None = None


class RouteConfig(ConfigBase, frozen=True, kw_only=True):
    """A public model name served by weighted deployments, all of one model type.

    ``model_type`` may be left out when a target names a model whose type the instance knows; it is required
    when every target passes an arbitrary name through (``local/llama3``).
    """

    model: str
    deployments: Annotated[list[DeploymentConfig], msgspec.Meta(min_length=1)]
    fallbacks: list[str] = []
    context_fallbacks: list[str] = []
    """Tried only when a deployment says the request is too long (``context_length_exceeded``)."""
    model_type: ModelType | None = None
    strategy: Literal["weighted", "least-busy", "fastest"] = "weighted"
    """Which deployment goes first: by weight at random, the one with the fewest calls waiting on it, or the one
    answering fastest lately (each worker keeps its own counts)."""


class RouterConfig(ConfigBase, frozen=True, kw_only=True):
    """Timeouts, retries and cooldowns of upstream calls (see :mod:`core.reliability`)."""

    timeout_s: Positive = 600.0
    """The longest silence from an upstream: before the first byte and between any two reads."""
    connect_timeout_s: Positive = 10.0
    first_byte_timeout_s: Positive | None = None
    """The longest wait for an attempt's answer to begin (a whole answer when not streamed); a timed-out attempt
    is retried elsewhere. None: ``timeout_s``."""
    stream_timeout_s: Positive | None = None
    """The longest a stream may run; it then ends with an error event. None: no limit."""
    retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Attempts after the first, across a route's deployments and fallbacks; only before the first byte."""
    backoff_s: Annotated[float, msgspec.Meta(ge=0)] = 0.1
    """The first wait before trying a deployment again; doubles each round, with full jitter."""
    max_backoff_s: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    """The longest wait between attempts; a longer Retry-After ends the retries instead."""
    retry_budget_s: Positive | None = None
    """No new attempt starts this long after the first began. None: only ``retries`` bounds them."""
    cooldown_after: Annotated[int, msgspec.Meta(ge=1)] = 3
    """Failures within ``cooldown_s`` that put a deployment in cooldown."""
    cooldown_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0


class Profile(ConfigBase, frozen=True, kw_only=True):
    """The whole profile file."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    providers: list[ProviderConfig] = []
    routes: list[RouteConfig] = []
    router: RouterConfig = msgspec.field(default_factory=RouterConfig)
    state: str | StateConfig = "memory"
    """``memory``, a ``redis://`` URL, or a :class:`StateConfig` mapping."""

    @property
    def state_config(self) -> StateConfig:
        """``state`` in its long form."""
        return self.state if isinstance(self.state, StateConfig) else StateConfig(url=self.state)


class InstanceSpec(msgspec.Struct, kw_only=True):
    """A checked provider instance, ready to be built."""

    name: str
    plugin: ProviderPlugin
    credentials: dict[str, Any]
    models: dict[ModelType, dict[str, ModelTarget]]
    """Enabled models by type and name; listed in ``/v1/models``."""
    any_model: bool
    """Whether any model name passes through (customizable provider with ``"*"``)."""
    not_configured: str | None = None
    """Why the instance cannot serve (``set OPENAI_API_KEY``), or None when it can."""
    credential_hint: str = ""
    """Where its credentials come from (environment variables or profile keys), for operator messages."""
    group: str = ""
    """The ``/{group}/v1/...`` prefix it answers under besides its own name; its name unless the profile says."""

    def target(self, model_type: ModelType, name: str) -> ModelTarget | None:
        """The enabled model of that type and name, or a pass-through target when any name is allowed (but not for
        the name of a model of another type: an embedding model is not a reranker)."""
        found = self.models.get(model_type, {}).get(name)
        if (found is None and self.any_model and model_type in self.plugin.schema.supported_model_types
                and not any(name in by_name for by_name in self.models.values())):
            return ModelTarget(name=name, model_type=model_type)
        return found


class RouteTarget(msgspec.Struct, frozen=True, kw_only=True):
    """A checked deployment or fallback of a route."""

    instance: str
    target: ModelTarget
    weight: float = 1.0
    rpm: int | None = None
    tpm: int | None = None


class RouteSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A checked route: its model type and its targets."""

    model: str
    model_type: ModelType
    strategy: str = "weighted"
    deployments: list[RouteTarget]
    fallbacks: list[RouteTarget]
    context_fallbacks: list[RouteTarget] = []


class LoadedProfile(msgspec.Struct, kw_only=True):
    """A profile that passed every check, with its instances resolved against the registry."""

    file: str
    profile: Profile
    instances: dict[str, InstanceSpec]
    routes: dict[str, RouteSpec]
    registry: Registry


class ProfileError(ValueError):
    """One or more located mistakes; ``str()`` lists them one per line."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def load_profile(path: str | Path, env: Mapping[str, str] | None = None,
                 registry: Registry | None = None) -> LoadedProfile:
    """Read, substitute, convert and check a profile; raise :class:`ProfileError` on any mistake."""
    registry = registry or Registry.discover()
    try:
        source = load_yaml(path, os.environ if env is None else env)
        if is_chatchat(source.data):
            source = from_chatchat(source, registry)
        data = source.data if source.data is not None else {}
        if not isinstance(data, dict):
            raise source.error((), "a profile is a mapping (server, providers, routes, ...)")
        profile = to_struct(source, _normalise_model_types(data), Profile)
    except ConfigError as exc:
        raise ProfileError([exc]) from None
    return _Checker(source, profile, registry).run()


def _normalise_model_types(data: dict[str, Any]) -> dict[str, Any]:
    # Accept Chatchat's model-type aliases (text-generation, embeddings, reranking) in model entries and routes.
    entries = [e for p in data.get("providers") or [] if isinstance(p, dict) for e in p.get("models") or []]
    for entry in [*entries, *(data.get("routes") or [])]:
        if isinstance(entry, dict) and isinstance(entry.get("model_type"), str):
            with contextlib.suppress(ValueError):  # left for the Struct conversion to report, located
                entry["model_type"] = ModelType.parse(entry["model_type"]).value
    return data


class _Checker:
    """The semantic checks, collecting every mistake before failing."""

    def __init__(self, source: YAMLSource, profile: Profile, registry: Registry) -> None:
        self.source, self.profile, self.registry = source, profile, registry
        self.errors: list[ConfigError] = []

    def fail(self, key: Key, message: str) -> None:
        self.errors.append(self.source.error(key, message))

    def run(self) -> LoadedProfile:
        instances: dict[str, InstanceSpec] = {}
        for i, config in enumerate(self.profile.providers):
            spec = self.instance(("providers", i), config)
            if spec is None:
                continue
            if spec.name in instances:
                self.fail(("providers", i, "name"), f"instance name '{spec.name}' is used twice")
            instances[spec.name] = spec
        routes = self.routes(instances)
        url = self.profile.state_config.url
        if not (url == "memory" or url.startswith(("redis://", "rediss://", "unix://"))):
            self.fail(("state",) if isinstance(self.profile.state, str) else ("state", "url"),
                      "must be 'memory' or a redis:// URL")
        self.keys()
        if self.errors:
            raise ProfileError(self.errors)
        return LoadedProfile(file=self.source.file, profile=self.profile, instances=instances, routes=routes,
                             registry=self.registry)

    def keys(self) -> None:
        """Gateway keys: names and secrets unique. An empty secret (``${VAR:-}`` unset) disables its key."""
        names: set[str] = set()
        seen = {k for k in self.profile.server.api_keys if k}
        for i, config in enumerate(self.profile.server.keys):
            at: Key = ("server", "keys", i)
            if config.name in names:
                self.fail((*at, "name"), f"key name '{config.name}' is used twice")
            names.add(config.name)
            if config.key and config.key in seen:
                self.fail((*at, "key"), "the same secret is given to another key")
            seen.add(config.key)
            for field, globs in (("models", config.models), ("paths", config.paths)):
                for j, glob in enumerate(globs):
                    if not glob:
                        self.fail((*at, field, j), "an empty glob matches nothing")

    def instance(self, at: Key, config: ProviderConfig) -> InstanceSpec | None:
        if config.provider not in self.registry:
            known = ", ".join(sorted(self.registry.plugins))
            self.fail((*at, "provider"), f"unknown provider '{config.provider}' (known: {known})")
            return None
        plugin = self.registry[config.provider]
        name = config.name or config.provider
        if not _INSTANCE_NAME.match(name):
            self.fail((*at, "name"), "must be letters, digits, '_', '.' or '-' (it is used in model ids)")
        for prefix in dict.fromkeys((name, config.group or name)):
            if prefix in RESERVED_NAMES:
                self.fail((*at, "name" if prefix == name else "group"),
                          f"'{prefix}' is reserved: /{prefix}/v1/... would clash with the gateway's own routes")
        forms = plugin.schema.provider_credential_schema
        check = check_credentials(forms.credential_form_schemas if forms else [], config.credentials,
                                  owner=plugin.id)
        for problem in check.problems:
            self.fail((*at, "credentials", problem.variable), problem.message)
        if not check.problems:
            try:
                plugin.provider_class().check_credential_values(check.values)
            except CredentialValueError as exc:
                self.fail((*at, "credentials", exc.variable), exc.message)
        models, any_model = self.models(at, plugin, config)
        return InstanceSpec(name=name, plugin=plugin, credentials=check.values, models=models,
                            any_model=any_model,
                            not_configured=(self.not_configured(at, check.empty_required)
                                            or plugin.provider_class().unavailable()),
                            group=config.group or name,
                            credential_hint=self.hint((*at, "credentials"), plugin, config.credentials))

    def hint(self, at: Key, plugin: ProviderPlugin, credentials: dict[str, Any]) -> str:
        secret = plugin.schema.secret_variables()
        variables = [v for v in credentials if v in secret] or list(credentials)
        names = sorted({n for v in variables for n in self.source.env_of((*at, v))})
        return " / ".join(names) if names else f"{format_key(at)} in the profile"  # clients may see it: no file path

    def not_configured(self, at: Key, empty: list[str]) -> str | None:
        if not empty:
            return None
        hints = []
        for variable in empty:
            key = (*at, "credentials", variable)
            names = self.source.env_of(key)
            hints.append(" or ".join(names) if names else f"{format_key(key)} in the profile")
        return "set " + ", ".join(hints)

    def models(self, at: Key, plugin: ProviderPlugin,
               config: ProviderConfig) -> tuple[dict[ModelType, dict[str, ModelTarget]], bool]:
        models: dict[ModelType, dict[str, ModelTarget]] = {}
        customizable = ConfigurateMethod.CUSTOMIZABLE_MODEL in plugin.schema.configurate_methods
        any_model = False
        for j, entry in enumerate(config.models):
            key = (*at, "models", j)
            if entry == "*":
                any_model = customizable
                for model_type, predefined in plugin.models.items():
                    for m in predefined:
                        models.setdefault(model_type, {})[m.model] = ModelTarget(name=m.model, model_type=model_type,
                                                                             schema=m)
            elif isinstance(entry, str):
                found = [(t, m) for t, ms in plugin.models.items() for m in ms if m.model == entry]
                if not found:
                    self.fail(key, f"'{entry}' is not a predefined model of provider '{plugin.id}'; declare it as "
                                   f"{{model: {entry}, model_type: llm}} to use it as a customizable model")
                for model_type, m in found:
                    models.setdefault(model_type, {})[m.model] = ModelTarget(name=m.model, model_type=model_type,
                                                                             schema=m)
            else:
                target = self.model_entry(key, plugin, entry, customizable)
                if target is not None:
                    models.setdefault(entry.model_type, {})[entry.model] = target
        return models, any_model

    def model_entry(self, key: Key, plugin: ProviderPlugin, entry: ModelEntry,
                    customizable: bool) -> ModelTarget | None:
        if entry.model_type not in plugin.schema.supported_model_types:
            supported = ", ".join(plugin.schema.supported_model_types)
            self.fail((*key, "model_type"), f"provider '{plugin.id}' supports only: {supported}")
            return None
        if not customizable and plugin.predefined(entry.model_type, entry.model) is None:
            self.fail((*key, "model"), f"provider '{plugin.id}' has no predefined {entry.model_type} model "
                                       f"'{entry.model}' and does not accept customizable models")
            return None
        forms = plugin.schema.model_credential_schema
        check = check_credentials(forms.credential_form_schemas if forms else [], entry.credentials,
                                  owner=plugin.id, model_type=entry.model_type)
        for problem in check.problems:
            self.fail((*key, "credentials", problem.variable), problem.message)
        for variable in check.empty_required:
            self.fail((*key, "credentials", variable), f"required by provider '{plugin.id}' and empty")
        schema = plugin.predefined(entry.model_type, entry.model)
        if schema is None:
            try:
                schema = plugin.provider_class().customizable_model_schema(entry.model, entry.model_type,
                                                                           check.values)
            except CredentialValueError as exc:
                self.fail((*key, "credentials", exc.variable), exc.message)
        return ModelTarget(name=entry.model, model_type=entry.model_type, credentials=check.values, schema=schema)

    def routes(self, instances: dict[str, InstanceSpec]) -> dict[str, RouteSpec]:
        routes: dict[str, RouteSpec] = {}
        for i, route in enumerate(self.profile.routes):
            if route.model in routes:
                self.fail(("routes", i, "model"), f"route '{route.model}' is defined twice")
            spec = self.route(("routes", i), route, instances)
            if spec is not None:
                routes[route.model] = spec
        return routes

    def route(self, at: Key, route: RouteConfig, instances: dict[str, InstanceSpec]) -> RouteSpec | None:
        entries = [((*at, "deployments", j, "target"), d.target, d) for j, d in enumerate(route.deployments)]
        entries += [((*at, "fallbacks", j), f, DeploymentConfig(target=f)) for j, f in enumerate(route.fallbacks)]
        entries += [((*at, "context_fallbacks", j), f, DeploymentConfig(target=f))
                    for j, f in enumerate(route.context_fallbacks)]
        found: list[tuple[Key, InstanceSpec, str, DeploymentConfig, set[ModelType]]] = []
        for key, target, deployment in entries:
            problem = _target_problem(target, instances)
            if problem:
                self.fail(key, problem)
                continue
            instance_name, _, model = target.partition("/")
            spec = instances[instance_name]
            found.append((key, spec, model, deployment, {t for t, by in spec.models.items() if model in by}))
        model_type = route.model_type
        if model_type is None:
            known = sorted({t for *_, types in found for t in types})
            if len(known) > 1:
                self.fail((*at, "model"), f"route '{route.model}' mixes {' and '.join(known)} models")
                return None
            if not known:
                if len(found) == len(entries):
                    self.fail((*at, "model"), f"cannot tell the model type of route '{route.model}' (its targets "
                                              "pass any model name through): add model_type, e.g. model_type: llm")
                return None
            model_type = known[0]
        targets: list[RouteTarget] = []
        for key, spec, model, deployment, types in found:
            resolved = spec.target(model_type, model) if not types or model_type in types else None
            if resolved is None:
                self.fail(key, f"'{spec.name}/{model}' is a {' and '.join(sorted(types))} model, route "
                               f"'{route.model}' serves {model_type}" if types else
                               f"provider instance '{spec.name}' does not serve {model_type} models")
                continue
            if deployment.timeout_s is not None or deployment.params:
                resolved = msgspec.structs.replace(resolved, timeout_s=deployment.timeout_s,
                                                   params=dict(deployment.params))
            targets.append(RouteTarget(instance=spec.name, target=resolved, weight=deployment.weight,
                                       rpm=deployment.rpm, tpm=deployment.tpm))
        if len(targets) < len(entries):
            return None  # the mistakes are reported; the profile will not load
        return RouteSpec(model=route.model, model_type=model_type, strategy=route.strategy,
                         deployments=targets[: len(route.deployments)],
                         fallbacks=targets[len(route.deployments):len(route.deployments) + len(route.fallbacks)],
                         context_fallbacks=targets[len(route.deployments) + len(route.fallbacks):])


def _target_problem(target: str, instances: dict[str, InstanceSpec]) -> str | None:
    instance_name, _, model = target.partition("/")
    spec = instances.get(instance_name)
    if spec is None or not model:
        return f"'{target}' is not <instance>/<model> with a provider instance of this profile"
    if spec.any_model or any(model in by_name for by_name in spec.models.values()):
        return None
    return f"instance '{instance_name}' has no enabled model '{model}'"
