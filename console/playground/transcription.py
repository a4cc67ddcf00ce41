"""The transcription tab: an audio file's path in, its text out."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from ..api import ConsoleError
from .base import PlaygroundPane

__all__ = ["TranscriptionPane"]


class TranscriptionPane(PlaygroundPane):
    """Speech to text."""

    MODEL_TYPE = "speech2text"

    def compose(self) -> ComposeResult:
        """Model and Run, the file, the outcome, the text."""
        yield self.bar("Transcribe")
        yield Input(placeholder="Audio file (flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm)",
                    id="audio-path", compact=True)
        yield self.outcome()
        with VerticalScroll(classes="results"):
            yield Static(id="transcript-text", markup=False)

    async def call(self, model: str) -> None:
        """Upload the file and show its text."""
        typed = self.query_one("#audio-path", Input).value.strip()
        if not typed:
            raise ConsoleError("Type the path of an audio file first.")
        shown = self.query_one("#transcript-text", Static)
        shown.update("")
        text, info = await self.gateway.transcribe(model, Path(typed).expanduser())
        shown.update(text)
        self.report_call(f"{len(text.split())} words", info)
