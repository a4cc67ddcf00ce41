"""The providers screen: every provider plug-in with its model types, whether the profile configures it, and how many
of its instances are ready.

``/`` filters by label, id or model type; Enter opens the provider (:mod:`.provider_detail`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input

from ..display import short_types
from ..wire import ProviderView
from .base import ConsoleScreen
from .provider_detail import ProviderDetailScreen

__all__ = ["ProvidersScreen"]


class ProvidersScreen(ConsoleScreen):
    """The provider list."""

    CSS_PATH = "providers.tcss"
    AUTO_FOCUS = "#providers"
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    providers: list[ProviderView] = []

    def compose_body(self) -> ComposeResult:
        """The filter (shown by ``/``) and the table."""
        yield Input(placeholder="Filter: label, id or model type", id="filter", compact=True)
        table: DataTable[str] = DataTable(id="providers", cursor_type="row", zebra_stripes=True)
        table.add_columns("Provider", "Model types", "Configured", "Status")
        yield table

    async def show_content(self) -> None:
        """Fetch and show the providers."""
        providers = await self.fetch(self.gateway.providers())
        if providers is not None:
            self.providers = providers
            self.show_rows()

    def show_rows(self) -> None:
        """The providers matching the filter."""
        table = self.query_one(DataTable)
        table.clear()
        words = self.query_one("#filter", Input).value.lower().split()
        for provider in self.providers:
            types = provider.schema.supported_model_types
            if all(w in " ".join([provider.id, provider.label, *types]).lower() for w in words):
                table.add_row(provider.label, short_types(types), "yes" if provider.instances else "no",
                              _status(provider), key=provider.id)

    def action_filter(self) -> None:
        """Show and focus the filter."""
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        """Empty and hide the filter."""
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.query_one(DataTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter as you type."""
        self.show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter moves to the table."""
        self.query_one(DataTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the provider."""
        if event.row_key.value is not None:
            self.app.push_screen(ProviderDetailScreen(self.gateway, event.row_key.value))


def _status(provider: ProviderView) -> str:
    """How many of its instances are ready to serve."""
    if not provider.instances:
        return "-"
    ready = sum(1 for i in provider.instances if i.status == "ready")
    return "ready" if ready == len(provider.instances) else f"{ready}/{len(provider.instances)} ready"
