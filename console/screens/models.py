"""The models screen: a provider's models (its catalogue, or what one of its instances serves) by type, with
context size, price and deprecation; the highlighted model's features and parameter rules below."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Select, Static

from ..display import price, rule_range, short_types
from ..wire import ModelInfo, ProviderView
from .base import ConsoleScreen

__all__ = ["ModelsScreen"]

Source = tuple[str, str | None]
"""A provider id, and an instance name to see what that instance serves (None: the provider's catalogue)."""


class ModelsScreen(ConsoleScreen):
    """Models and their parameter rules."""

    CSS_PATH = "models.tcss"
    AUTO_FOCUS = "#models"

    providers: dict[str, ProviderView] = {}
    models: list[ModelInfo] = []

    def compose_body(self) -> ComposeResult:
        """Pickers, models, and the highlighted model's rules."""
        with Horizontal(id="pickers"):
            yield Select[Source]([], prompt="Provider", id="source", allow_blank=True, compact=True)
            yield Select[str]([], prompt="All types", id="type", compact=True)
        yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
        yield Static(id="model-info", markup=False)
        yield DataTable(id="rules", cursor_type="row", zebra_stripes=True)

    async def show_content(self) -> None:
        """Offer every provider's catalogue and each configured instance."""
        providers = await self.fetch(self.gateway.providers())
        if providers is None:
            return
        self.providers = {p.id: p for p in providers}
        options: list[tuple[str, Source]] = []
        for provider in providers:
            options.append((f"{provider.label} (catalogue)", (provider.id, None)))
            options += [(f"{provider.label}: {i.name}", (provider.id, i.name)) for i in provider.instances]
        source = self.query_one("#source", Select)
        source.set_options(options)
        if options:
            source.value = options[0][1]

    @on(Select.Changed, "#source")
    def _source_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, tuple):
            provider = self.providers[event.value[0]]
            self.query_one("#type", Select).set_options((t, t) for t in provider.schema.supported_model_types)
            self.load_models()

    @on(Select.Changed, "#type")
    def _type_changed(self) -> None:
        self.load_models()

    @work(exclusive=True, group="models")
    async def load_models(self) -> None:
        """The models of the chosen source and type."""
        source = self.query_one("#source", Select).value
        model_type = self.query_one("#type", Select).value
        if not isinstance(source, tuple):
            return
        models = await self.fetch(self.gateway.provider_models(
            source[0], instance=source[1], model_type=model_type if isinstance(model_type, str) else None))
        if models is None:
            return
        self.models = models
        table = self.query_one("#models", DataTable)
        table.clear(columns=True)  # new columns fit the new rows
        table.add_columns("Model", "Type", "Context", "Price", "Deprecated")
        for index, model in enumerate(self.models):
            table.add_row(model.model, short_types([model.model_type or "?"]), model.context_size or "",
                          price(model.pricing),
                          "yes" if model.deprecated else "", key=str(index))
        self.show_model(self.models[0] if self.models else None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted model's details."""
        if event.data_table.id == "models" and event.row_key.value is not None:
            self.show_model(self.models[int(event.row_key.value)])

    def show_model(self, model: ModelInfo | None) -> None:
        """Features, where it comes from, and its parameter rules."""
        info = self.query_one("#model-info", Static)
        rules = self.query_one("#rules", DataTable)
        rules.clear(columns=True)
        rules.add_columns("Parameter", "Type", "Range", "Default", "Help")
        if model is None:
            info.update("No models of this type here.")
            return
        features = ", ".join(model.features) or "none"
        info.update(f"{model.model} ({model.fetch_from or 'predefined-model'}): features {features}")
        for rule in model.parameter_rules:
            default = "" if rule.default is None else str(rule.default)
            rules.add_row(rule.name + (" *" if rule.required else ""), rule.type or "", rule_range(rule), default,
                          rule.help.en_US if rule.help else "")
