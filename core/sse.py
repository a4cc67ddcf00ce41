"""Server-sent events: the framing every stream uses, and the error event that ends a failed stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from .errors import ModelRuntimeError
from .openai.errors import error_body

__all__ = ["DONE", "error_event", "event", "payloads"]

DONE = b"data: [DONE]\n\n"
_encoder = msgspec.json.Encoder()


def event(payload: msgspec.Struct) -> bytes:
    """One ``data:`` event carrying ``payload`` as JSON."""
    return b"data: " + _encoder.encode(payload) + b"\n\n"


def error_event(error: ModelRuntimeError) -> bytes:
    """The event that ends a stream which failed after it started; OpenAI's SDKs raise ``APIError`` on it."""
    return event(error_body(error))


async def payloads(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The ``data:`` payloads of the events completed by each read of an upstream stream, as soon as they are
    complete (a partial event waits for the rest; a last event missing its blank line is taken at the end).
    ``event:``, ``id:`` and comment lines are dropped: the payloads of the native streams read here say their type.
    """
    pending = b""
    async for chunk in chunks:
        pending += chunk.replace(b"\r\n", b"\n")
        end = pending.rfind(b"\n\n")
        if end >= 0:
            ready, pending = pending[:end], pending[end + 2:]
            found = _data(ready)
            if found:
                yield found
    if pending.strip():
        found = _data(pending)
        if found:
            yield found


def _data(events: bytes) -> list[bytes]:
    out = []
    for block in events.split(b"\n\n"):
        lines = [line[6:] if line[5:6] == b" " else line[5:]
                 for line in block.split(b"\n") if line.startswith(b"data:")]
        if lines:
            out.append(b"\n".join(lines))
    return out
