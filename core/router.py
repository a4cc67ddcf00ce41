"""Model name → ordered deployments.

A requested ``model`` is, in this order: a route alias from the profile (one deployment picked by weight, the
others after it), ``<instance>/<model>`` for an enabled model of a provider instance (or any model of an
instance that passes names through), or a bare model name enabled on an instance (the first instance in profile
order wins). Anything else is a 404 that points at ``GET /v1/models``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import msgspec

from .errors import InvalidRequestError, ModelNotFoundError
from .model_types import ModelTarget
from .profile import InstanceSpec, LoadedProfile
from .schema import ModelType

__all__ = ["Deployment", "Router"]


class Deployment(msgspec.Struct, frozen=True):
    """One place a request can go: a provider instance and the model there."""

    instance: InstanceSpec
    target: ModelTarget

    @property
    def id(self) -> str:
        """``<instance>/<model>``, as in model ids and logs."""
        return f"{self.instance.name}/{self.target.name}"


class _Weighted(msgspec.Struct, frozen=True):
    instance: str
    model: str
    weight: float


class Router:
    """Resolves model names against a loaded profile; built once per profile, immutable afterwards."""

    def __init__(self, loaded: LoadedProfile, rng: random.Random | None = None) -> None:
        self.instances = loaded.instances
        self.routes = {
            r.model: [_Weighted(*d.target.partition("/")[::2], d.weight) for d in r.deployments]
            for r in loaded.profile.routes
        }
        self._rng = rng or random.Random()

    def resolve(self, name: str, model_type: ModelType) -> list[Deployment]:
        """Deployments for ``name`` in the order to try them; raise a 404 or 400 if there are none."""
        if name in self.routes:
            return self._route(name, model_type)
        instance_name, slash, model = name.partition("/")
        spec = self.instances.get(instance_name) if slash else None
        if spec is not None:
            target = spec.target(model_type, model)
            if target is None:
                raise self._not_found(name, model_type, spec)
            return [Deployment(spec, target)]
        for spec in self.instances.values():
            target = spec.models.get(model_type, {}).get(name)
            if target is not None:
                return [Deployment(spec, target)]
        raise self._not_found(name, model_type)

    def listed(self) -> Iterator[tuple[str, str]]:
        """``(model id, owner)`` for every alias and enabled model of a configured instance."""
        for alias in self.routes:
            yield alias, "model-runtime"
        for spec in self.instances.values():
            if spec.not_configured is None:
                for by_name in spec.models.values():
                    for model in by_name:
                        yield f"{spec.name}/{model}", spec.plugin.id

    def _route(self, name: str, model_type: ModelType) -> list[Deployment]:
        candidates: list[tuple[Deployment, float]] = []
        for w in self.routes[name]:
            target = self.instances[w.instance].target(model_type, w.model)
            if target is not None:
                candidates.append((Deployment(self.instances[w.instance], target), w.weight))
        if not candidates:
            raise InvalidRequestError(f"route '{name}' serves no {model_type} model", param="model",
                                      code="model_type_mismatch")
        first = self._rng.choices(range(len(candidates)), weights=[w for _, w in candidates])[0]
        return [candidates[first][0]] + [d for i, (d, _) in enumerate(candidates) if i != first]

    def _not_found(self, name: str, model_type: ModelType,
                   spec: InstanceSpec | None = None) -> InvalidRequestError | ModelNotFoundError:
        model = name.partition("/")[2] if spec else name
        for other_type, by_name in (spec.models.items() if spec else []):
            if model in by_name:
                return InvalidRequestError(f"'{name}' is a {other_type} model, this endpoint needs a {model_type} "
                                           "model", param="model", code="model_type_mismatch")
        return ModelNotFoundError(f"The model '{name}' does not exist on this gateway. GET /v1/models lists the "
                                  "models you can use.", param="model")
