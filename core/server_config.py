"""``server:`` and ``state:`` of the profile: where to listen, the gateway keys with their scopes and limits, and
where those limits and usage are counted. Read and checked by :func:`core.profile.load_profile`."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .schema import ConfigBase

__all__ = ["BudgetConfig", "KeyConfig", "Positive", "PositiveInt", "ServerConfig", "StateConfig"]

Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class BudgetConfig(ConfigBase, frozen=True, kw_only=True):
    """A key's spend limit per calendar period (UTC), in the currency of the models' ``pricing``."""

    amount: Positive
    period: Literal["day", "month"] = "month"


class KeyConfig(ConfigBase, frozen=True, kw_only=True):
    """One gateway key of ``server.keys``: who (``name``, shown in usage and logs; ``key`` itself never is), what
    it may call (globs over model names and API paths) and how much (limits left out are unlimited)."""

    name: str
    key: str
    """The secret, normally ``${ENV_VAR}``; kept only as a SHA-256 digest once loaded. Empty: the key is off."""
    admin: bool = False
    """May read ``GET /v1/usage``."""
    models: list[str] = msgspec.field(default_factory=lambda: ["*"])
    """Globs over the requested ``model`` (route aliases, ``<instance>/<model>``); others answer 404."""
    paths: list[str] = msgspec.field(default_factory=lambda: ["*"])
    """Globs over the API path (``/v1/embeddings``, ``/v1/audio/*``); others answer 403."""
    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    """Prompt + completion tokens per minute, counted from each response's usage."""
    max_parallel: PositiveInt | None = None
    budget: BudgetConfig | None = None


class StateConfig(ConfigBase, frozen=True, kw_only=True):
    """``state:`` in its long form: where limits and usage live, and what happens when that store fails."""

    url: str = "memory"
    """``memory`` (this process) or ``redis://host:6379/0`` (shared by every replica)."""
    on_error: Literal["open", "closed"] = "open"
    """When Redis fails or is slow: ``open`` lets requests through unmetered, ``closed`` answers 503."""
    timeout_s: Positive = 0.25
    """The longest a request waits for Redis before ``on_error`` applies."""
    retry_s: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    """After a failure, Redis is not asked again for this long (requests get ``on_error`` at once)."""


class ServerConfig(ConfigBase, frozen=True, kw_only=True):
    """``server:``: where to listen, gateway keys, request limits."""

    host: str = "0.0.0.0"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    workers: Annotated[int, msgspec.Meta(ge=1)] = 1
    api_keys: list[str] = []
    """Plain keys: unlimited, not admin (``keys`` below adds names, scopes and limits)."""
    keys: list[KeyConfig] = []
    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 32 * 1024 * 1024
    max_audio_bytes: Annotated[int, msgspec.Meta(gt=0)] = 25 * 1024 * 1024
    """The largest audio file a transcription accepts (OpenAI's limit); the whole body also obeys
    ``max_body_bytes``."""
    watch_profile: bool = True
    """Reload the profile when its file changes (``SIGHUP`` reloads it either way)."""
    drain_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    """After ``SIGTERM``, keep serving this long with ``/health/ready`` answering 503, so load balancers stop
    sending before the listener closes; then running requests and streams finish and the process exits."""
