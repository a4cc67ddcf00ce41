"""Gateway keys: ``Authorization: Bearer <key>`` (or ``x-api-key``), checked in constant time against hashes.

``server.api_keys`` are plain keys (unlimited, not admin, named ``api_keys[0]``, ...); ``server.keys`` add a name,
scopes and limits (:class:`core.limits.KeyPolicy`). Either way only SHA-256 digests stay in memory.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from core.errors import AuthenticationError, ModelNotFoundError
from core.limits import KeyPolicy
from core.server_config import KeyConfig, ServerConfig

__all__ = ["ANONYMOUS", "KEY_NAME_STATE", "KEY_STATE", "MODEL_STATE", "GatewayKeys", "check_model"]

KEY_STATE = "model_runtime.key"
"""``scope["state"]`` entry: the caller's :class:`KeyPolicy`."""
KEY_NAME_STATE = "model_runtime.key_name"
"""``scope["state"]`` entry: the caller's key name (``""`` on an open gateway); safe to log, unlike the key."""
MODEL_STATE = "model_runtime.model"
"""``scope["state"]`` entry: the model the request named (``<provider>/<model>`` on ``/{provider}/v1``)."""
ANONYMOUS = KeyPolicy(name="")
"""Who calls an open gateway (no key configured)."""


class GatewayKeys:
    """The profile's keys, kept only as SHA-256 digests; none at all means the gateway is open."""

    def __init__(self, keys: Iterable[str], configured: Iterable[KeyConfig] = ()) -> None:
        configured = list(configured)
        self._entries = [(_digest(k), KeyPolicy(name=f"api_keys[{i}]")) for i, k in enumerate(keys) if k]
        self._entries += [(_digest(c.key), KeyPolicy.from_config(c)) for c in configured if c.key]
        self._open = not self._entries and not configured
        """Open only when no key is configured at all: ``server.keys`` whose secrets are all unset let nobody in."""

    @classmethod
    def from_profile(cls, server: ServerConfig) -> GatewayKeys:
        """``server.api_keys`` and ``server.keys``."""
        return cls(server.api_keys, server.keys)

    @property
    def open(self) -> bool:
        """Whether no key is configured."""
        return self._open

    def check(self, presented: str | None) -> KeyPolicy:
        """The policy of ``presented``; raise 401 unless it is one of the keys."""
        if self.open:
            return ANONYMOUS
        if not presented:
            raise AuthenticationError(
                "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
                "(Authorization: Bearer YOUR_KEY).", code="missing_api_key")
        digest = _digest(presented)
        found = None
        # Compare against every key so the time taken does not tell which one nearly matched.
        for known, policy in self._entries:
            if hmac.compare_digest(digest, known):
                found = policy
        if found is None:
            raise AuthenticationError("Incorrect API key provided.", code="invalid_api_key")
        return found

    def identify(self, headers: Iterable[tuple[bytes, bytes]]) -> KeyPolicy:
        """The caller of a request with these raw ASGI headers."""
        if self.open:
            return ANONYMOUS
        bearer = api_key = None
        for name, value in headers:
            if name == b"authorization":
                bearer = value
            elif name == b"x-api-key":
                api_key = value
        presented = bearer[7:].strip() if bearer and bearer[:7].lower() == b"bearer " else None
        chosen = presented or api_key
        return self.check(chosen.decode("latin-1") if chosen else None)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def check_model(scope: Mapping[str, Any], provider: str | None, model: str) -> None:
    """404 unless the caller's key may use ``model`` (as OpenAI answers for a model a key cannot see); remembers the
    name in the request's ``scope`` for metrics, usage and the access log."""
    name = model if provider is None else f"{provider}/{model}"
    state = scope["state"]
    state[MODEL_STATE] = name
    key: KeyPolicy | None = state.get(KEY_STATE)
    if key is not None and key.models is not None and not key.may_use_model(name):
        raise ModelNotFoundError(f"The model '{name}' does not exist or you do not have access to it.",
                                 param="model")
