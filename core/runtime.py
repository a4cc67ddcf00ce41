"""The live side of a loaded profile: one provider object (with its pooled client) per instance, and a router.

Built once at start-up; requests only look things up here. An instance that is not configured has no provider
object, and calls to it answer 503 naming what to set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from .errors import ModelRuntimeError, ProviderNotConfiguredError, UpstreamTimeoutError
from .model_types import Provider, ProviderContext
from .profile import LoadedProfile
from .reliability import Cooldowns
from .router import Deployment, DeploymentStats, Router
from .state import State

__all__ = ["RemoteModels", "Runtime"]

log = logging.getLogger("model_runtime")


class Runtime:
    """Providers and router for one profile."""

    def __init__(self, loaded: LoadedProfile, state: State | None = None) -> None:
        self.loaded = loaded
        self.state = state
        """Where limits, usage and shared cooldowns are kept; it outlives reloads."""
        self.stats = DeploymentStats()
        self.router = Router(loaded, stats=self.stats, load=state.load if state is not None else None)
        self.providers: dict[str, Provider] = {}
        self.remote_models = RemoteModels()
        self.cooldowns = Cooldowns(loaded.profile.router.cooldown_after, loaded.profile.router.cooldown_s,
                                   shared=state.cooldowns if state is not None else None)
        self.created = int(time.time())
        """When this runtime was built: the ``created`` of the models it lists."""
        self.in_flight = 0
        """Calls being served (streams until they end); a replaced runtime closes when it reaches 0."""
        router = loaded.profile.router
        for spec in loaded.instances.values():
            if spec.not_configured is not None:
                log.warning("provider instance '%s' is not configured: %s", spec.name, spec.not_configured)
                continue
            context = ProviderContext(name=spec.name, schema=spec.plugin.schema, credentials=spec.credentials,
                                      credential_hint=spec.credential_hint, timeout_s=router.timeout_s,
                                      connect_timeout_s=router.connect_timeout_s)
            self.providers[spec.name] = spec.plugin.provider_class()(context)

    def provider(self, deployment: Deployment) -> Provider:
        """The provider object serving ``deployment``, or a 503 if its instance is not configured."""
        provider = self.providers.get(deployment.instance.name)
        if provider is None:
            raise ProviderNotConfiguredError(
                f"provider instance '{deployment.instance.name}' is not configured on this gateway: the operator "
                f"should {deployment.instance.not_configured}")
        return provider

    async def retire(self, grace_s: float) -> None:
        """Close once the calls it serves have finished, or after ``grace_s`` (a reloaded profile replaced it)."""
        deadline = time.monotonic() + grace_s
        while self.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await self.aclose()

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self.providers.values():
            await provider.aclose()


class ListsModels(Protocol):
    """What :class:`RemoteModels` needs of a provider."""

    name: str

    async def remote_models(self) -> list[str]:
        """The upstream's model names."""
        ...


class RemoteModels:
    """Model lists fetched from upstreams (``fetch-from-remote``): kept a minute per instance, a failure ten
    seconds (so a dead upstream is not asked on every request), one fetch at a time per instance, each bounded."""

    def __init__(self, ttl_s: float = 60.0, failure_ttl_s: float = 10.0, timeout_s: float = 15.0) -> None:
        self.ttl_s, self.failure_ttl_s, self.timeout_s = ttl_s, failure_ttl_s, timeout_s
        self._cache: dict[str, tuple[float, list[str] | ModelRuntimeError]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, provider: ListsModels) -> list[str]:
        """The instance's listed model names; raises the (cached) error of a failed listing."""
        async with self._locks.setdefault(provider.name, asyncio.Lock()):
            cached = self._cache.get(provider.name)
            if cached is None or cached[0] <= time.monotonic():
                cached = await self._fetch(provider)
                self._cache[provider.name] = cached
        if isinstance(cached[1], ModelRuntimeError):
            raise cached[1]
        return cached[1]

    async def _fetch(self, provider: ListsModels) -> tuple[float, list[str] | ModelRuntimeError]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return time.monotonic() + self.ttl_s, await provider.remote_models()
        except TimeoutError:
            error: ModelRuntimeError = UpstreamTimeoutError(
                f"provider instance '{provider.name}' did not list its models within {self.timeout_s:g}s")
        except ModelRuntimeError as exc:
            error = exc
        return time.monotonic() + self.failure_ttl_s, error
