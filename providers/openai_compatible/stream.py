"""Pass an OpenAI-wire SSE stream through, event by event, without re-encoding.

Upstream reads are forwarded as soon as they complete at least one event; only a partial event is held back,
so a cut stream never leaves half an event in front of the error event that reports the cut. Every ``data:``
payload must be JSON (or ``[DONE]``): garbage ends the stream with an error event instead of reaching the client.

The gateway never claims a stream is complete when it is not. ``data: [DONE]`` is added only when the upstream
finished a choice (a ``finish_reason`` was sent) but left the marker out; a stream that stops before that ends
with an ``upstream_stream_interrupted`` error event, and an upstream's own error event is the last word.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.usage import Usage
from core.sse import DONE, error_event

from .errors import map_errors

__all__ = ["SSEPassthrough"]


class _Choice(msgspec.Struct):
    finish_reason: str | None = None
    usage: msgspec.Raw = msgspec.Raw()
    """Moonshot's (Kimi's) streams report the usage here, in the last chunk's choice, not at the top level."""


class _Event(msgspec.Struct):
    """What the gateway reads of an event: whether it ends a choice, whether it reports an error."""

    choices: list[_Choice] | None = None
    error: msgspec.Raw = msgspec.Raw()  # empty when absent
    usage: msgspec.Raw = msgspec.Raw()


_decode_event = msgspec.json.Decoder(_Event).decode
_decode_usage = msgspec.json.Decoder(Usage, strict=False).decode
_decode_any = msgspec.json.Decoder(msgspec.Raw).decode


class SSEPassthrough:
    """An :class:`~core.model_types.EventStream` over an open upstream response."""

    def __init__(self, response: ResponseBody, context: ProviderContext, hide_usage: bool = False) -> None:
        self._response = response
        self._context = context
        self._done = self._finished = self._failed = False
        self.usage: Usage | None = None
        """The usage event's counts, when the upstream sent one (only when asked: ``include_usage``), or the
        finishing choice's own (Moonshot's)."""
        self._hide_usage = hide_usage
        """The gateway asked for the usage event, the client did not: it is read, not passed on."""
        self._hidden: bytes | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = b""
        try:
            with map_errors(self._context, streaming=True):
                async for chunk in self._response.aiter_bytes():
                    pending += chunk
                    end = _last_event_end(pending)
                    if end == 0:
                        continue
                    ready, pending = pending[:end], pending[end:]
                    if not self._read(ready):
                        yield self._error("sent an event that is not JSON", "upstream_invalid_event")
                        return
                    if self._hidden is not None:
                        ready, self._hidden = ready.replace(b"data: " + self._hidden + b"\n\n", b"", 1), None
                        if not ready:
                            continue
                    yield ready
        except errors.ModelRuntimeError as exc:
            yield error_event(exc)
            return
        finally:
            await self._response.aclose()
        if pending.strip():  # the spec drops an unterminated last event; a whole one is taken, anything else is a cut
            last = pending.rstrip(b"\r\n") + b"\n\n"
            if not self._read(last):
                yield self._error("ended the stream in the middle of an event", "upstream_stream_interrupted")
                return
            yield last
        if self._done or self._failed:
            return
        if self._finished:
            yield DONE
        else:
            yield self._error("ended the stream before it was complete", "upstream_stream_interrupted")

    async def aclose(self) -> None:
        """Close the upstream response."""
        await self._response.aclose()

    def _read(self, events: bytes) -> bool:
        """Check every ``data:`` payload of complete ``events`` and note DONE, finish reasons and errors."""
        if b"\r" in events:
            return self._read_lines(events)
        for block in events.split(b"\n\n"):
            if block[:6] == b"data: " and b"\n" not in block:  # the usual event: one data line
                if not self._note(block[6:]):
                    return False
            elif block and not self._read_lines(block):
                return False
        return True

    def _read_lines(self, events: bytes) -> bool:
        """:meth:`_read` for any framing: CR LF line ends, several ``data:`` lines, comments, other fields."""
        data: list[bytes] = []
        for line in (*events.splitlines(), b""):
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif not line and data:
                if not self._note(b"\n".join(data)):
                    return False
                data.clear()
        return True

    def _note(self, payload: bytes) -> bool:
        if payload == b"[DONE]":
            self._done = True
            return True
        try:
            event = _decode_event(payload)
        except msgspec.ValidationError:  # JSON so far, but not the usual shape: make sure it is JSON at all
            try:
                _decode_any(payload)
            except msgspec.DecodeError:
                return False
            return True
        except msgspec.DecodeError:
            return False
        if event.error and bytes(event.error) != b"null":
            self._failed = True
        if event.usage and bytes(event.usage) != b"null":
            with contextlib.suppress(msgspec.ValidationError):  # odd counts: passed on, not counted
                self.usage = _decode_usage(event.usage)
            if self._hide_usage and not event.choices:  # the usage chunk (framed otherwise than usual: left in)
                self._hidden = payload
        if not self._finished:
            for choice in event.choices or ():
                if choice.finish_reason:
                    self._finished = True
                    if choice.usage and self.usage is None and bytes(choice.usage) != b"null":
                        with contextlib.suppress(msgspec.ValidationError):
                            self.usage = _decode_usage(choice.usage)
        return True

    def _error(self, what: str, code: str) -> bytes:
        return error_event(errors.UpstreamError(f"provider instance '{self._context.name}' {what}", code=code))


def _last_event_end(buffer: bytes) -> int:
    lf, crlf = buffer.rfind(b"\n\n"), buffer.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
