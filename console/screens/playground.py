"""The playground screen: a tab per model type, each calling the gateway's OpenAI routes with the models it lists.

A tab's widgets are built the first time it is shown, so the screen opens fast.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import TabbedContent, TabPane

from core.openai.models import Model

from ..playground.base import PlaygroundPane
from ..playground.chat import ChatPane
from ..playground.embeddings import EmbeddingsPane
from ..playground.moderation import ModerationPane
from ..playground.rerank import RerankPane
from ..playground.speech import SpeechPane
from ..playground.transcription import TranscriptionPane
from .base import ConsoleScreen

__all__ = ["PlaygroundScreen"]

TABS: tuple[tuple[str, type[PlaygroundPane]], ...] = (
    ("Chat", ChatPane), ("Embeddings", EmbeddingsPane), ("Rerank", RerankPane), ("Speech", SpeechPane),
    ("Transcription", TranscriptionPane), ("Moderation", ModerationPane),
)


class PlaygroundScreen(ConsoleScreen):
    """Try every model type."""

    CSS_PATH = "playground.tcss"
    BINDINGS = [Binding("ctrl+r", "run", "Run")]

    models: list[Model] | None = None
    """Every model with its type, once fetched."""

    def compose_body(self) -> ComposeResult:
        """A tab per pane, all but the first empty until shown."""
        with TabbedContent(id="playground"):
            for index, (title, pane) in enumerate(TABS):
                with TabPane(title, id=f"{title.lower()}-tab"):
                    if index == 0:
                        yield pane(self.gateway, id=title.lower())

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Build a tab the first time it is shown."""
        tab = event.pane
        if tab.children:
            return
        title, pane_class = next((t, p) for t, p in TABS if f"{t.lower()}-tab" == tab.id)
        pane = pane_class(self.gateway, id=title.lower())
        await tab.mount(pane)
        if self.models is not None:
            pane.offer_models(self.models)

    def action_run(self) -> None:
        """Run the call of the tab in view."""
        pane = self.query_one(TabbedContent).active_pane
        if pane is not None:
            pane.query_one(PlaygroundPane).run_call()

    async def show_content(self) -> None:
        """Every model with its type, handed to each tab."""
        self.models = await self.fetch(self.gateway.models())
        if self.models is None:
            return
        for pane in self.query(PlaygroundPane):
            pane.offer_models(self.models)
