"""The embeddings tab: several texts (one per line) become vectors; shown are their dimensions, norms and the
cosine similarity of every pair."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.widgets import DataTable, TextArea

from ..api import ApiError
from .base import PlaygroundPane

__all__ = ["EmbeddingsPane", "cosine", "norm"]


def norm(vector: list[float]) -> float:
    """The Euclidean length."""
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine of the angle between ``a`` and ``b`` (0 when either is all zeros)."""
    length = norm(a) * norm(b)
    return sum(x * y for x, y in zip(a, b, strict=True)) / length if length else 0.0


class EmbeddingsPane(PlaygroundPane):
    """Embed texts and compare them."""

    MODEL_TYPE = "text-embedding"

    def compose(self) -> ComposeResult:
        """Model and Run, the texts, the outcome, the table."""
        yield self.bar("Embed")
        yield TextArea(id="texts", classes="texts", compact=True, placeholder="One text per line")
        yield self.outcome()
        yield DataTable(id="vectors", classes="results", cursor_type="row")

    async def call(self, model: str) -> None:
        """Embed each non-empty line."""
        texts = [line for line in self.query_one("#texts", TextArea).text.splitlines() if line.strip()]
        if not texts:
            self.report("Type one text per line first.")
            return
        reply, info = await self.gateway.embeddings(model, texts)
        floats = [d.embedding for d in sorted(reply.data, key=lambda d: d.index) if isinstance(d.embedding, list)]
        if len(floats) != len(texts):
            raise ApiError(f"Expected {len(texts)} float vectors, the gateway sent {len(floats)}.")
        table = self.query_one("#vectors", DataTable)
        table.clear(columns=True)
        table.add_columns("#", "Text", "Norm", *(f"cos {i + 1}" for i in range(len(floats))))
        for i, (text, vector) in enumerate(zip(texts, floats, strict=True)):
            table.add_row(i + 1, text[:24], f"{norm(vector):.4f}", *(f"{cosine(vector, o):.4f}" for o in floats))
        self.report_call(f"{len(floats)} vectors of {len(floats[0])} dimensions", info)
