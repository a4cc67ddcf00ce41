"""Audio over OpenAI's wire: the multipart upload of a transcription, its usage, and speech passed through as it
arrives."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import AudioFile, AudioStream, ProviderContext
from core.openai.usage import Usage

__all__ = ["audio_stream", "multipart", "read_transcription_usage"]

log = logging.getLogger("model_runtime")


def multipart(fields: dict[str, Any], audio: AudioFile) -> tuple[bytes, str]:
    """The body and content type of an upload as OpenAI's SDK sends it: list fields repeated as ``name[]``."""
    data: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list):
            data[f"{name}[]"] = [_text(v) for v in value]
        else:
            data[name] = _text(value)
    request = httpx.Request("POST", "http://upstream/", data=data,
                            files={"file": (audio.filename, audio.content, audio.content_type)})
    return request.read(), request.headers["content-type"]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


class _Duration(msgspec.Struct):
    type: str = ""
    seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class _Transcription(msgspec.Struct):
    usage: _Duration | None = None
    duration: float | None = None  # verbose_json


_decode_transcription = msgspec.json.Decoder(_Transcription).decode


def read_transcription_usage(content: bytes) -> Usage | None:
    """What a JSON transcription cost: tokens in and out (``gpt-4o-transcribe``), or whole seconds of audio as
    input units (``whisper-1``, priced per second); ``None`` when the body says neither."""
    try:
        body = _decode_transcription(content)
    except msgspec.MsgspecError:
        return None
    usage = body.usage
    if usage is not None and usage.type == "tokens" and usage.input_tokens is not None:
        output = usage.output_tokens or 0
        return Usage(prompt_tokens=usage.input_tokens, completion_tokens=output,
                     total_tokens=usage.total_tokens or usage.input_tokens + output)
    seconds = usage.seconds if usage is not None and usage.seconds is not None else body.duration
    if seconds is None:
        return None
    whole = math.ceil(seconds)
    return Usage(prompt_tokens=whole, total_tokens=whole)


def audio_stream(response: ResponseBody, context: ProviderContext, characters: int) -> AudioStream:
    """Speech as the upstream sends it, chunk by chunk; priced by the ``characters`` of its input."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            log.warning("provider instance %r broke off the audio stream (%s); dropping the client connection",
                        context.name, type(exc).__name__)
            raise errors.StreamAborted(context.name) from None

    media_type = response.headers.get("content-type", "application/octet-stream")
    return AudioStream(chunks(), media_type, response.aclose, Usage(prompt_tokens=characters,
                                                                    total_tokens=characters))
