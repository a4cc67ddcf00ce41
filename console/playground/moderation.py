"""The moderation tab: a text judged by a moderation model; the flagged categories first, then every score."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, TextArea

from ..api import ConsoleError
from .base import PlaygroundPane

__all__ = ["ModerationPane"]


class ModerationPane(PlaygroundPane):
    """Check a text."""

    MODEL_TYPE = "moderation"
    BLANK_MEANS = "Gateway's default model"

    def compose(self) -> ComposeResult:
        """Model and Run, the text, the verdict, the categories."""
        yield self.bar("Check")
        yield TextArea(id="moderation-text", classes="texts", compact=True, placeholder="Text to check")
        yield self.outcome()
        yield DataTable(id="categories", classes="results", cursor_type="row")

    def on_mount(self) -> None:
        """The categories' columns."""
        self.query_one("#categories", DataTable).add_columns("Category", "Flagged", "Score")

    async def call(self, model: str) -> None:
        """Moderate the text."""
        text = self.query_one("#moderation-text", TextArea).text.strip()
        if not text:
            raise ConsoleError("Type a text first.")
        reply, info = await self.gateway.moderate(text, model or None)
        result = reply.results[0]
        flagged = sorted(c for c, hit in result.categories.items() if hit)
        table = self.query_one("#categories", DataTable)
        table.clear()
        order = sorted(result.category_scores.items(), key=lambda item: (not result.categories.get(item[0]),
                                                                          -item[1]))
        for category, score in order:
            table.add_row(category, "yes" if result.categories.get(category) else "", f"{score:.4f}")
        verdict = f"flagged: {', '.join(flagged)}" if result.flagged else "not flagged"
        self.report_call(f"{verdict} ({reply.model})", info)
