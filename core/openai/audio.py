"""Audio: speech synthesis requests and transcription parameters."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .base import WireBase

__all__ = ["SPEECH_FORMATS", "TRANSCRIPTION_FORMATS", "SpeechRequest", "TranscriptionParams"]

SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")


class SpeechRequest(WireBase, kw_only=True):
    """``POST /v1/audio/speech``."""

    model: str
    input: str
    voice: str | dict[str, str]
    """A voice name, or ``{"id": ...}`` for a custom voice."""
    response_format: str | None = None
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] | None = None
    instructions: str | None = None
    stream_format: str | None = None


class TranscriptionParams(WireBase, kw_only=True):
    """The non-file fields of ``POST /v1/audio/transcriptions`` and ``/translations`` (multipart)."""

    model: str
    language: str | None = None
    prompt: str | None = None
    response_format: str | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    timestamp_granularities: list[str] | None = None
    stream: bool | None = None
