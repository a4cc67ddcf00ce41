"""``create_app(profile)``: the Litestar application for one loaded profile."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from core.profile import LoadedProfile
from core.runtime import Runtime
from core.server_config import StateConfig
from core.state import MemoryState
from core.state import State as LimitState

from .access import flush_access_lines
from .auth import GatewayKeys
from .calls import ModelCalls, documented
from .errors import EXCEPTION_HANDLERS
from .metering import Meter, metering
from .metrics import Metrics, metrics
from .reload import Reloader
from .routes import audio, catalogue, health, models, responses, seed, tokens, usage
from .tracing import Tracing
from .version import VERSION

__all__ = ["create_app"]

log = logging.getLogger("model_runtime")


def create_app(loaded: LoadedProfile) -> ModelCalls:
    """Build the app (:mod:`server.calls` in front of Litestar); providers and their connection pools live from
    start-up to shutdown, or until a reloaded profile replaces them (:mod:`server.reload`)."""
    keys = GatewayKeys.from_profile(loaded.profile.server)
    counters = _limit_state(loaded.profile.state_config)
    state = State({"runtime": Runtime(loaded, counters), "gateway_keys": keys, "draining": False})
    state.metrics = Metrics(lambda: state.runtime)
    state.meter = Meter(counters, state.metrics, Tracing())

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if keys.open:
            log.warning("no gateway keys configured (server.api_keys): anyone who reaches this port can use it")
        await counters.start()
        reloader = Reloader(state, loaded.file)
        reloader.on_sighup()
        if loaded.profile.server.drain_s > 0:
            _drain_on_sigterm(state, loaded.profile.server.drain_s)
        watcher = asyncio.ensure_future(reloader.watch()) if loaded.profile.server.watch_profile else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            try:
                await reloader.aclose()
                await state.runtime.aclose()
            finally:
                state.metrics.close()  # what the last requests recorded, before the process goes
                flush_access_lines()  # a forked worker ends without logging's exit hook
                await counters.aclose()

    # The model calls with JSON bodies (chat, completions, embeddings, rerank, moderations) are served in front of
    # Litestar by server/calls.py; the handlers documented() gives put them in the OpenAPI schema.
    v1 = Router(
        "/v1",
        route_handlers=[*documented("/v1"), audio.transcriptions, audio.translations, audio.speech, models.list_models,
                        models.retrieve_model,
                        catalogue.list_providers, catalogue.get_provider, catalogue.provider_icon,
                        catalogue.provider_models, catalogue.validate_credentials,
                        catalogue.validate_model_credentials, catalogue.profile, tokens.count_tokens,
                        usage.usage, *responses.STORED],
        middleware=[metering],
    )
    # Chatchat's routes: the provider instance (or Chatchat provider key) by path, the model by body.
    provider_v1 = Router("/{provider:str}/v1", route_handlers=[
        *documented("/{provider:str}/v1"), audio.seed_transcriptions, audio.seed_translations, audio.seed_speech,
        seed.seed_models, seed.seed_retrieve_model,
    ], middleware=[metering])
    workspace = Router("/workspaces/current", route_handlers=[seed.model_providers, seed.models_by_type],
                       middleware=[metering])
    root = Router("/", route_handlers=documented("/"), middleware=[metering])
    return ModelCalls(Litestar(
        route_handlers=[v1, provider_v1, workspace, root, health.live, health.ready, metrics],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=state,
        request_max_body_size=loaded.profile.server.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Model Runtime", version=VERSION, path="/schema"),
        logging_config=None,
    ))


def _limit_state(config: StateConfig) -> LimitState:
    """Where keys' limits and usage are counted: this process, or Redis (imported only when used)."""
    if config.url == "memory":
        return MemoryState()
    from core.redis_state import RedisState

    return RedisState(config)


def _drain_on_sigterm(state: State, drain_s: float) -> None:
    """Put a drain period in front of uvicorn's graceful shutdown (main thread only, where signals arrive).

    On ``SIGTERM`` the app marks itself draining (``/health/ready`` → 503) and hands the signal to uvicorn's own
    handler ``drain_s`` later; a second ``SIGTERM`` hands it over at once.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    uvicorn_handler = signal.getsignal(signal.SIGTERM)
    if not callable(uvicorn_handler):
        return

    def shut_down() -> None:
        signal.signal(signal.SIGTERM, uvicorn_handler)
        uvicorn_handler(signal.SIGTERM, None)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if state.draining:
            loop.call_soon_threadsafe(shut_down)
            return
        state.draining = True
        log.warning("SIGTERM: draining for %gs (/health/ready answers 503), then shutting down", drain_s)
        loop.call_soon_threadsafe(loop.call_later, drain_s, shut_down)

    signal.signal(signal.SIGTERM, on_sigterm)
