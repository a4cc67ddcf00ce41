"""Pass an OpenAI-wire SSE stream through, event by event, without re-encoding.

Upstream reads are forwarded as soon as they complete at least one event; only a partial event is held back,
so a cut stream never leaves half an event in front of the error event that reports the cut. Each ``data:``
line must hold JSON (or ``[DONE]``): garbage ends the stream with an error event instead of reaching the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from core import errors
from core.model_types import ProviderContext
from core.sse import DONE, error_event

from .errors import map_errors

__all__ = ["SSEPassthrough"]


class SSEPassthrough:
    """An :class:`~core.model_types.EventStream` over an open upstream response."""

    def __init__(self, response: httpx.Response, context: ProviderContext) -> None:
        self._response = response
        self._context = context

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = b""
        done = False
        try:
            with map_errors(self._context, streaming=True):
                async for chunk in self._response.aiter_bytes():
                    pending += chunk
                    end = _last_event_end(pending)
                    if end == 0:
                        continue
                    ready, pending = pending[:end], pending[end:]
                    if not _valid(ready):
                        yield error_event(errors.UpstreamError(
                            f"provider instance '{self._context.name}' sent an event that is not JSON",
                            code="upstream_invalid_event"))
                        return
                    done = ready.rstrip().endswith(b"data: [DONE]")
                    yield ready
        except errors.ModelRuntimeError as exc:
            yield error_event(exc)
            return
        finally:
            await self._response.aclose()
        if pending.strip():
            yield error_event(errors.UpstreamError(
                f"provider instance '{self._context.name}' ended the stream in the middle of an event",
                code="upstream_stream_interrupted"))
        elif not done:
            yield DONE

    async def aclose(self) -> None:
        """Close the upstream response."""
        await self._response.aclose()


def _last_event_end(buffer: bytes) -> int:
    lf, crlf = buffer.rfind(b"\n\n"), buffer.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _valid(events: bytes) -> bool:
    for line in events.splitlines():
        if line.startswith(b"data:"):
            data = line[5:].lstrip()
            if data[:1] not in (b"{", b"[") :
                return False
    return True
