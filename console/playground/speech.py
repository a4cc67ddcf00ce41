"""The speech tab: text spoken by a voice of a text-to-speech model, written to an audio file whose format follows
its extension; shown are the file's size and, for WAV, its duration."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Select

from ..api import ConsoleError
from .base import PlaygroundPane

__all__ = ["SpeechPane", "wav_seconds"]

FORMATS = ("wav", "mp3", "opus", "aac", "flac", "pcm")


def wav_seconds(audio: bytes) -> float | None:
    """The duration of a WAV file; None when ``audio`` is not one."""
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            frames: int = reader.getnframes()
            rate: int = reader.getframerate()
    except (wave.Error, EOFError):
        return None
    return frames / rate if rate else None


class SpeechPane(PlaygroundPane):
    """Text to speech."""

    MODEL_TYPE = "tts"

    def compose(self) -> ComposeResult:
        """Model, voice and Run; the text; the file to write; the outcome."""
        yield self.bar("Speak", Select[str]([], prompt="Voice", id="voice", compact=True))
        yield Input(placeholder="Text to speak", id="speech-text", compact=True)
        yield Input("speech.wav", placeholder="Audio file to write (.wav, .mp3, .opus, .aac, .flac, .pcm)",
                    id="speech-path", compact=True)
        yield self.outcome()

    @on(Select.Changed, ".model")
    def _offer_voices(self) -> None:
        card = self.models.get(str(self.model))
        voices = (card.voices or []) if card else []
        picker = self.query_one("#voice", Select)
        picker.set_options((v, v) for v in voices)
        if voices:
            picker.value = voices[0]

    async def call(self, model: str) -> None:
        """Synthesise and write the file."""
        text = self.query_one("#speech-text", Input).value.strip()
        voice = self.query_one("#voice", Select).value
        path = Path(self.query_one("#speech-path", Input).value.strip() or "speech.wav").expanduser()
        audio_format = path.suffix.lstrip(".").lower()
        if not text or not isinstance(voice, str):
            raise ConsoleError("Type a text and pick a voice first.")
        if audio_format not in FORMATS:
            raise ConsoleError(f"Name the file .{' .'.join(FORMATS)}: the extension picks the audio format.")
        audio, info = await self.gateway.speech(model, text, voice, audio_format)
        try:
            await asyncio.to_thread(path.write_bytes, audio)
        except OSError as exc:
            raise ConsoleError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        seconds = wav_seconds(audio) if audio_format == "wav" else None
        duration = f", {seconds:.2f} s" if seconds is not None else ""
        self.report_call(f"wrote {path}: {len(audio):,} bytes{duration}", info)
