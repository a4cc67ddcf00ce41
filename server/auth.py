"""Gateway keys: ``Authorization: Bearer <key>`` (or ``x-api-key``), checked in constant time against hashes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler

from core.errors import AuthenticationError

__all__ = ["GatewayKeys", "require_key"]


class GatewayKeys:
    """The profile's ``server.api_keys``, kept only as SHA-256 digests; empty means the gateway is open."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [_digest(k) for k in keys if k]

    @property
    def open(self) -> bool:
        """Whether no key is configured."""
        return not self._digests

    def check(self, presented: str | None) -> None:
        """Raise 401 unless ``presented`` is one of the keys."""
        if self.open:
            return
        if not presented:
            raise AuthenticationError(
                "You didn't provide an API key. Send it in an Authorization header using Bearer auth "
                "(Authorization: Bearer YOUR_KEY).", code="missing_api_key")
        digest = _digest(presented)
        # Compare against every key so the time taken does not tell which one nearly matched.
        if not sum(hmac.compare_digest(digest, d) for d in self._digests):
            raise AuthenticationError("Incorrect API key provided.", code="invalid_api_key")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def require_key(connection: ASGIConnection[Any, Any, Any, State], handler: BaseRouteHandler) -> None:
    """Litestar guard for every ``/v1`` route but those marked ``opt={"public": True}`` (provider icons)."""
    keys: GatewayKeys = connection.app.state.gateway_keys
    if keys.open or handler.opt.get("public"):
        return
    header = connection.headers.get("authorization")
    presented = header[7:].strip() if header and header[:7].lower() == "bearer " else None
    keys.check(presented or connection.headers.get("x-api-key"))
