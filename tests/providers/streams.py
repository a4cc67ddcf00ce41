"""Driving a translated stream in unit tests: the plug-in's context, an upstream body read in given pieces, and
the client's events parsed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import httpx

from core.model_types import ProviderContext
from core.registry import Registry

__all__ = ["client_events", "provider_context", "upstream"]


def provider_context(provider: str, name: str, credentials: dict[str, Any] | None = None) -> ProviderContext:
    """The context of a ``provider`` plug-in instance called ``name`` (as a profile would make it)."""
    return ProviderContext(name=name, schema=Registry.discover()[provider].schema, credentials=credentials or {},
                           credential_hint="providers[0].credentials in the profile", timeout_s=5.0,
                           connect_timeout_s=1.0)


def upstream(*reads: bytes, content_type: str = "text/event-stream") -> httpx.Response:
    """An open upstream response whose body arrives in ``reads``, one read each."""

    async def body() -> AsyncIterator[bytes]:
        for read in reads:
            yield read

    return httpx.Response(200, headers={"content-type": content_type}, content=body())


async def client_events(stream: AsyncIterable[bytes]) -> list[dict[str, Any]]:
    """What the client receives, event by event: each ``data:`` payload parsed, ``[DONE]`` as ``{"done": True}``."""
    events = b"".join([item async for item in stream])
    assert events.endswith(b"\n\n")
    payloads = [block.removeprefix(b"data: ") for block in events.split(b"\n\n") if block]
    return [json.loads(p) if p != b"[DONE]" else {"done": True} for p in payloads]
