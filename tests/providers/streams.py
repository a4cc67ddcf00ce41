"""Driving a translated stream in unit tests: an upstream body read in given pieces, the client's events parsed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import httpx

__all__ = ["client_events", "upstream"]


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
