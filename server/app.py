"""``create_app(profile)``: the Litestar application for one loaded profile."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from core.profile import LoadedProfile
from core.runtime import Runtime

from .auth import GatewayKeys, require_key
from .errors import EXCEPTION_HANDLERS
from .reload import Reloader
from .routes import catalogue, health, models, openai, seed, tokens

__all__ = ["create_app"]

log = logging.getLogger("model_runtime")
VERSION = "0.1.0"


def create_app(loaded: LoadedProfile) -> Litestar:
    """Build the app; providers and their connection pools live from start-up to shutdown, or until a reloaded
    profile replaces them (:mod:`server.reload`)."""
    keys = GatewayKeys(loaded.profile.server.api_keys)
    state = State({"runtime": Runtime(loaded), "gateway_keys": keys})

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if keys.open:
            log.warning("no gateway keys configured (server.api_keys): anyone who reaches this port can use it")
        reloader = Reloader(state, loaded.file)
        reloader.on_sighup()
        watcher = asyncio.ensure_future(reloader.watch()) if loaded.profile.server.watch_profile else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await reloader.aclose()
            await state.runtime.aclose()

    v1 = Router(
        "/v1",
        route_handlers=[openai.chat_completions, openai.completions, openai.embeddings,
                        models.list_models, models.retrieve_model,
                        catalogue.list_providers, catalogue.get_provider, catalogue.provider_icon,
                        catalogue.provider_models, catalogue.validate_credentials,
                        catalogue.validate_model_credentials, catalogue.profile, tokens.count_tokens],
        guards=[require_key],
    )
    # Chatchat's routes: the provider instance (or Chatchat provider key) by path, the model by body.
    provider_v1 = Router("/{provider:str}/v1", route_handlers=[
        openai.seed_chat_completions, openai.seed_completions, openai.seed_embeddings, seed.seed_models,
        seed.seed_retrieve_model,
    ], guards=[require_key])
    workspace = Router("/workspaces/current", route_handlers=[seed.model_providers, seed.models_by_type],
                       guards=[require_key])
    return Litestar(
        route_handlers=[v1, provider_v1, workspace, health.live, health.ready],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=state,
        request_max_body_size=loaded.profile.server.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Model Runtime", version=VERSION, path="/schema"),
        logging_config=None,
    )
