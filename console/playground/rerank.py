"""The rerank tab: a query and documents (one per line) ranked by the reranker, best first, with scores."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Input, TextArea

from ..api import ConsoleError
from .base import PlaygroundPane

__all__ = ["RerankPane"]


class RerankPane(PlaygroundPane):
    """Rank documents against a query."""

    MODEL_TYPE = "rerank"

    def compose(self) -> ComposeResult:
        """Model, top N and Run; query; documents; outcome; ranking."""
        yield self.bar("Rank", Input(placeholder="top N", id="top-n", type="integer", compact=True))
        yield Input(placeholder="Query", id="query", compact=True)
        yield TextArea(id="documents", classes="texts", compact=True, placeholder="Documents, one per line")
        yield self.outcome()
        yield DataTable(id="ranking", classes="results", cursor_type="row")

    def on_mount(self) -> None:
        """The ranking's columns."""
        self.query_one("#ranking", DataTable).add_columns("Rank", "#", "Score", "Document")

    async def call(self, model: str) -> None:
        """Rank the non-empty lines."""
        query = self.query_one("#query", Input).value.strip()
        documents = [d for d in self.query_one("#documents", TextArea).text.splitlines() if d.strip()]
        if not query or not documents:
            raise ConsoleError("Type a query and at least one document (one per line) first.")
        top = self.query_one("#top-n", Input).value.strip()
        if top and not top.isdigit():
            raise ConsoleError(f"top N must be a whole number, not '{top}'.")
        reply, info = await self.gateway.rerank(model, query, documents, int(top) if top else None)
        table = self.query_one("#ranking", DataTable)
        table.clear()
        for rank, result in enumerate(reply.results, start=1):
            table.add_row(rank, result.index + 1, f"{result.relevance_score:.4f}", documents[result.index][:48])
        self.report_call(f"{len(reply.results)} of {len(documents)} documents ranked", info)
