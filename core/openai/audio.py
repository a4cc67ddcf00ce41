"""Audio: speech synthesis requests and transcription parameters."""

from __future__ import annotations

from .base import WireBase

__all__ = ["SpeechRequest", "TranscriptionParams"]


class SpeechRequest(WireBase, kw_only=True):
    """``POST /v1/audio/speech``."""

    model: str
    input: str
    voice: str
    response_format: str | None = None
    speed: float | None = None
    instructions: str | None = None


class TranscriptionParams(WireBase, kw_only=True):
    """The non-file fields of ``POST /v1/audio/transcriptions`` (multipart)."""

    model: str
    language: str | None = None
    prompt: str | None = None
    response_format: str | None = None
    temperature: float | None = None
    timestamp_granularities: list[str] | None = None
