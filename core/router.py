"""Model name → ordered deployments.

A requested ``model`` is, in this order: a route alias from the profile (one deployment picked by weight, the
others after it), ``<instance>/<model>`` for an enabled model of a provider instance (or any model of an
instance that passes names through), or a bare model name enabled on an instance (the first configured instance
in profile order wins). Anything else is a 404 that points at ``GET /v1/models``.

Everything that does not depend on the request is worked out once, when the router is built: route candidates
are only the deployments whose provider instance is configured.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import msgspec

from .errors import (
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
    ProviderNotConfiguredError,
    RateLimitError,
)
from .limits import DeploymentLimit
from .model_types import ModelTarget
from .profile import InstanceSpec, LoadedProfile, RouteSpec
from .schema import ModelSchema, ModelType
from .state import DeploymentLoad

__all__ = ["Deployment", "DeploymentStats", "Found", "Router"]

ROUTE_OWNER = "model-runtime"


_NAMED_CACHE = 4096


class Deployment(msgspec.Struct, frozen=True):
    """One place a request can go: a provider instance and the model there."""

    instance: InstanceSpec
    target: ModelTarget

    @property
    def id(self) -> str:
        """``<instance>/<model>``, as in model ids and logs."""
        return f"{self.instance.name}/{self.target.name}"


class Found(msgspec.Struct, frozen=True):
    """What :meth:`Router.find` knows of a servable name."""

    owner: str
    model_type: ModelType | None = None
    schema: ModelSchema | None = None


class DeploymentStats:
    """Per deployment: calls waiting on the upstream now, and how fast it answered lately (an exponential moving
    average of the seconds to the answer or the first byte). Kept per worker process."""

    def __init__(self, smoothing: float = 0.3) -> None:
        self.smoothing = smoothing
        self.waiting: dict[str, int] = {}
        self.latency_s: dict[str, float] = {}

    def began(self, deployment: str) -> None:
        """A call to ``deployment`` started."""
        self.waiting[deployment] = self.waiting.get(deployment, 0) + 1

    def ended(self, deployment: str, seconds: float | None) -> None:
        """It ended; ``seconds`` to the answer when it succeeded."""
        self.waiting[deployment] = max(0, self.waiting.get(deployment, 1) - 1)
        if seconds is not None:
            previous = self.latency_s.get(deployment)
            self.latency_s[deployment] = seconds if previous is None else (
                previous + self.smoothing * (seconds - previous))


class _Route(msgspec.Struct, frozen=True):
    model_type: ModelType
    strategy: str
    deployments: list[Deployment]
    """Deployments on configured instances only."""
    weights: list[float]
    fallbacks: list[Deployment]
    """Tried in order after the deployments (configured instances only)."""
    context_fallbacks: list[Deployment]
    """Tried when a deployment finds the request too long."""
    unavailable: str
    """Why nothing can serve the route when ``deployments`` is empty."""


class Router:
    """Resolves model names against a loaded profile; built once per profile, immutable afterwards."""

    def __init__(self, loaded: LoadedProfile, rng: random.Random | None = None,
                 stats: DeploymentStats | None = None, load: DeploymentLoad | None = None) -> None:
        self.instances = loaded.instances
        self.stats = stats or DeploymentStats()
        self.load = load or DeploymentLoad()
        self.deployment_limits: dict[str, DeploymentLimit] = {}
        """Route deployments with their own ``rpm`` / ``tpm`` (the lowest, when several routes share one)."""
        for route in loaded.routes.values():
            for t in route.deployments:
                if t.rpm or t.tpm:
                    deployment_id = f"{t.instance}/{t.target.name}"
                    had = self.deployment_limits.get(deployment_id, DeploymentLimit())
                    self.deployment_limits[deployment_id] = DeploymentLimit(_tighter(t.rpm or 0, had.rpm),
                                                                            _tighter(t.tpm or 0, had.tpm))
        self._configured = [s for s in loaded.instances.values() if s.not_configured is None]
        self._by_preference = self._configured + [s for s in loaded.instances.values() if s.not_configured]
        self.routes = {name: self._build(route) for name, route in loaded.routes.items()}
        self.groups: dict[str, list[InstanceSpec]] = {}
        for spec in self._by_preference:
            for key in dict.fromkeys((spec.name, spec.group)):
                self.groups.setdefault(key, []).append(spec)
        self._rng = rng or random.Random()
        self._named: dict[tuple[str, ModelType], Deployment] = {}
        """``<instance>/<model>`` names resolved before (the clients', so bounded: :data:`_NAMED_CACHE`)."""

    def resolve(self, name: str, model_type: ModelType) -> list[Deployment]:
        """Deployments for ``name`` in the order to try them (a route's fallbacks last); raise a 404, 400 or 503 if
        there are none."""
        route = self.routes.get(name)
        if route is not None:
            return self._pick(name, route, model_type)
        instance_name, slash, model = name.partition("/")
        if slash:
            known = self._named.get((name, model_type))
            if known is not None:
                return [known]
            spec = self.instances.get(instance_name)
            target = spec.target(model_type, model) if spec is not None and model else None
            if spec is None or target is None:
                raise self._not_found(name, model_type, spec)
            if len(self._named) >= _NAMED_CACHE:
                self._named.clear()
            self._named[(name, model_type)] = deployment = Deployment(spec, target)
            return [deployment]
        for spec in self._by_preference:
            found = spec.models.get(model_type, {}).get(name)
            if found is not None:
                return [Deployment(spec, found)]
        raise self._not_found(name, model_type)

    def context_fallbacks(self, name: str) -> list[Deployment]:
        """Where a request for ``name`` goes when it is too long for its deployments (routes only)."""
        route = self.routes.get(name)
        return route.context_fallbacks if route is not None else []

    def resolve_in(self, group: str, name: str, model_type: ModelType) -> list[Deployment]:
        """``/{group}/v1/...``: ``name`` is a model of the instance (or Chatchat group) ``group``."""
        specs = self.groups.get(group)
        if specs is None:
            raise NotFoundError(f"provider '{group}' is not configured on this gateway. GET /v1/providers lists "
                                "the providers, GET /v1/profile the instances.", param="provider",
                                code="provider_not_found")
        for spec in specs:
            found = spec.models.get(model_type, {}).get(name)
            if found is not None:
                return [Deployment(spec, found)]
        for spec in specs:
            target = spec.target(model_type, name) if name else None
            if target is not None:
                return [Deployment(spec, target)]
        mismatch = next((t for s in specs for t, by_name in s.models.items() if name in by_name), None)
        if mismatch is not None:
            raise _mismatch(name, mismatch, model_type)
        raise ModelNotFoundError(f"The model '{name}' does not exist at provider '{group}'. GET /{group}/v1/models "
                                 "lists its models.", param="model")

    def listed_in(self, group: str) -> Iterator[tuple[str, str]]:
        """``(model name, owner)`` for the enabled models of the configured instances of ``group``."""
        seen: set[str] = set()
        for spec in self.groups.get(group, []):
            if spec.not_configured is None:
                for by_name in spec.models.values():
                    for model in by_name:
                        if model not in seen:
                            seen.add(model)
                            yield model, spec.plugin.id

    def listed(self) -> Iterator[tuple[str, str, ModelType | None]]:
        """``(model id, owner, model type)`` for every servable alias and every enabled model of a configured
        instance; a model of two types (an embedding model that also reranks) is listed once, with the first."""
        for alias, route in self.routes.items():
            if route.deployments or route.fallbacks:
                yield alias, ROUTE_OWNER, route.model_type
        for spec in self._configured:
            types: dict[str, ModelType] = {}
            for model_type, by_name in spec.models.items():
                for name in by_name:
                    types.setdefault(name, model_type)
            for model, model_type in types.items():
                yield f"{spec.name}/{model}", spec.plugin.id, model_type

    def find(self, name: str) -> Found | None:
        """Who serves ``name`` and what is known of it (``GET /v1/models/{name}``), or None when nothing here can.

        Found for exactly the names a call could go to: listed ids, bare names of enabled models, and any
        name on an instance that passes names through; never for an instance that is not configured.
        """
        route = self.routes.get(name)
        if route is not None:
            return Found(ROUTE_OWNER, route.model_type) if route.deployments or route.fallbacks else None
        instance_name, slash, model = name.partition("/")
        candidates = [s for s in self._configured if s.name == instance_name] if slash else self._configured
        for spec in candidates:
            for model_type, by_name in spec.models.items():
                target = by_name.get(model if slash else name)
                if target is not None:
                    return Found(spec.plugin.id, model_type, target.schema)
            if slash and model and spec.any_model:
                return Found(spec.plugin.id)
        return None

    def _build(self, route: RouteSpec) -> _Route:
        usable = [t for t in route.deployments if self.instances[t.instance].not_configured is None]
        fallbacks, context = ([Deployment(self.instances[t.instance], t.target) for t in targets
                               if self.instances[t.instance].not_configured is None]
                              for targets in (route.fallbacks, route.context_fallbacks))
        first = self.instances[route.deployments[0].instance]
        return _Route(
            model_type=route.model_type,
            strategy=route.strategy,
            deployments=[Deployment(self.instances[t.instance], t.target) for t in usable],
            weights=[t.weight for t in usable],
            fallbacks=fallbacks,
            context_fallbacks=context,
            unavailable="" if usable or fallbacks else
            f"none of the provider instances of route '{route.model}' is configured on this gateway: the operator "
            f"should {first.not_configured} (instance '{first.name}')",
        )

    def _pick(self, name: str, route: _Route, model_type: ModelType) -> list[Deployment]:
        if route.model_type != model_type:
            raise _mismatch(name, route.model_type, model_type)
        if not route.deployments and not route.fallbacks:
            raise ProviderNotConfiguredError(route.unavailable)
        deployments = self._unsaturated(name, route) if self.deployment_limits else route.deployments
        if len(deployments) <= 1:
            return [*deployments, *route.fallbacks]
        match route.strategy:
            case "least-busy":
                ordered = sorted(deployments,
                                 key=lambda d: (self.stats.waiting.get(d.id, 0), self._rng.random()))
            case "fastest":  # never measured goes first, so every deployment gets measured
                ordered = sorted(deployments,
                                 key=lambda d: (self.stats.latency_s.get(d.id, 0.0), self._rng.random()))
            case _:
                free = {d.id for d in deployments}
                weights = route.weights if deployments is route.deployments else [
                    w for d, w in zip(route.deployments, route.weights, strict=True) if d.id in free]
                first = self._rng.choices(range(len(deployments)), weights=weights)[0]
                ordered = [deployments[first], *deployments[:first], *deployments[first + 1:]]
        return [*ordered, *route.fallbacks]

    def _unsaturated(self, name: str, route: _Route) -> list[Deployment]:
        """The route's deployments under their own ``rpm`` / ``tpm`` now; a 429 when every one is saturated and
        there is no fallback."""
        busy = {d.id: self.load.busy_for(d.id, limit) for d in route.deployments
                if (limit := self.deployment_limits.get(d.id)) is not None}
        if not any(busy.values()):
            return route.deployments
        free = [d for d in route.deployments if not busy.get(d.id)]
        if not free and not route.fallbacks:
            wait = max(1, math.ceil(min(busy.values())))
            raise RateLimitError(f"Every deployment of '{name}' is at its rate limit; try again in {wait}s.",
                                 code="deployments_saturated", retry_after=wait)
        return free

    def _not_found(self, name: str, model_type: ModelType,
                   spec: InstanceSpec | None = None) -> InvalidRequestError | ModelNotFoundError:
        model = name.partition("/")[2] if spec else name
        specs = [spec] if spec else self._by_preference
        for other_type, by_name in (t for s in specs for t in s.models.items()):
            if model in by_name:
                return _mismatch(name, other_type, model_type)
        return ModelNotFoundError(f"The model '{name}' does not exist on this gateway. GET /v1/models lists the "
                                  "models you can use.", param="model")


def _tighter(a: int, b: int) -> int:
    """The stricter of two limits where 0 means none."""
    return min(a, b) if a and b else a or b


def _mismatch(name: str, has: ModelType, needs: ModelType) -> InvalidRequestError:
    return InvalidRequestError(f"'{name}' is a {has} model, this endpoint needs a {needs} model", param="model",
                               code="model_type_mismatch")
