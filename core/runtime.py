"""The live side of a loaded profile: one provider object (with its pooled client) per instance, and a router.

Built once at start-up; requests only look things up here. An instance that is not configured has no provider
object, and calls to it answer 503 naming what to set.
"""

from __future__ import annotations

import logging
import time

from .catalogue import RemoteModels
from .errors import ProviderNotConfiguredError
from .model_types import Provider, ProviderContext
from .profile import LoadedProfile
from .router import Deployment, Router

__all__ = ["Runtime"]

log = logging.getLogger("model_runtime")


class Runtime:
    """Providers and router for one profile."""

    def __init__(self, loaded: LoadedProfile) -> None:
        self.loaded = loaded
        self.router = Router(loaded)
        self.providers: dict[str, Provider] = {}
        self.remote_models = RemoteModels()
        self.created = int(time.time())
        """When this runtime was built: the ``created`` of the models it lists."""
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

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self.providers.values():
            await provider.aclose()
