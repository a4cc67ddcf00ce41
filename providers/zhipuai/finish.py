"""Zhipu's answers and streams as OpenAI's: they pass through but for what OpenAI's clients would trip over.

Zhipu's stream chunks leave out ``"object": "chat.completion.chunk"``, which the openai SDK's stream helpers
(``client.chat.completions.stream``) require of every chunk; it is put in front of each event's fields, a byte
replacement per read. Then two finish reasons OpenAI does not have:
``sensitive`` (the answer was stopped by Zhipu's content review) becomes OpenAI's ``content_filter``;
``network_error`` (the model failed while generating) is a failure: a 502 for a whole answer, and for a stream
the error event that ends it in place of the event carrying that reason. Everything else is OpenAI's already, so
only a body or a read whose bytes hold one of the two words is decoded; the rest is forwarded as it came.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import msgspec

from core import errors
from core.model_types import EventStream, JSONReply
from core.openai.usage import Usage
from core.sse import error_event

__all__ = ["ZhipuStream", "checked_reply"]

_MARKERS = (b'"sensitive"', b'"network_error"')
_EVENT_START = b'data: {"'
_TYPED_START = b'data: {"object":"chat.completion.chunk","'
_ERROR_START = b'data: {"error"'

_EVENT_END = re.compile(rb"(\r?\n\r?\n)")
_decode = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.Encoder().encode


def _marked(data: bytes) -> bool:
    return any(marker in data for marker in _MARKERS)


def _reasons(payload: Any) -> set[str]:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list):
        return set()
    return {str(c.get("finish_reason")) for c in choices if isinstance(c, dict)}


def _filtered(payload: dict[str, Any]) -> dict[str, Any]:
    for choice in payload["choices"]:
        if isinstance(choice, dict) and choice.get("finish_reason") == "sensitive":
            choice["finish_reason"] = "content_filter"
    return payload


def _failure(provider: str) -> errors.UpstreamError:
    return errors.UpstreamError(f"provider instance '{provider}' failed while generating the answer "
                                "(Zhipu finish_reason 'network_error')")


def checked_reply(reply: JSONReply, provider: str) -> JSONReply:
    """A whole chat completion with ``sensitive`` renamed; ``network_error`` raises."""
    if not _marked(reply.body):
        return reply
    try:
        payload = _decode(reply.body)
    except msgspec.MsgspecError:
        return reply
    reasons = _reasons(payload)
    if "network_error" in reasons:
        raise _failure(provider)
    return JSONReply(_encode(_filtered(payload)), reply.usage) if "sensitive" in reasons else reply


class ZhipuStream:
    """An :class:`~core.model_types.EventStream` over the passthrough of a Zhipu chat stream."""

    def __init__(self, inner: EventStream, provider: str) -> None:
        self._inner, self._provider = inner, provider

    async def __aiter__(self) -> AsyncIterator[bytes]:
        events = self._inner.__aiter__()
        try:
            async for read in events:
                typed = b'"object":' in read or read.startswith(_ERROR_START)  # the passthrough's own error event
                chunk = read if typed else read.replace(_EVENT_START, _TYPED_START)
                if not _marked(chunk):
                    yield chunk
                    continue
                out, failed = self._rewritten(chunk)
                yield out
                if failed:
                    return
        finally:
            if isinstance(events, AsyncGenerator):
                await events.aclose()
            await self._inner.aclose()

    @property
    def usage(self) -> Usage | None:
        """The usage the inner stream read."""
        return self._inner.usage

    async def aclose(self) -> None:
        """Close the upstream response."""
        await self._inner.aclose()

    def _rewritten(self, chunk: bytes) -> tuple[bytes, bool]:
        """The events of one read with the finish reasons translated, and whether the stream failed there."""
        parts = _EVENT_END.split(chunk)  # event, separator, event, separator, ..., rest
        out: list[bytes] = []
        for i in range(0, len(parts), 2):
            event, separator = parts[i], parts[i + 1] if i + 1 < len(parts) else b""
            if _marked(event) and event.startswith(b"data:"):
                try:
                    payload = _decode(event[5:])
                except msgspec.MsgspecError:
                    payload = None
                reasons = _reasons(payload)
                if "network_error" in reasons:
                    out.append(error_event(_failure(self._provider)))
                    return b"".join(out), True
                if "sensitive" in reasons and isinstance(payload, dict):
                    event = b"data: " + _encode(_filtered(payload))  # "object" stays: it was put in above
            out += (event, separator)
        return b"".join(out), False
