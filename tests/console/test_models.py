"""The models screen: a provider's models by type, with context, price and deprecation, and their parameter rules."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Select, Static

from tests.console.conftest import ConsoleGateway, rows, settle, text


async def show_console_form(pilot: Pilot[None], instance: str | None = None) -> None:
    """Open the models screen on the test plug-in's catalogue (or one of its instances)."""
    await settle(pilot)
    await pilot.press("f2")
    await settle(pilot)
    pilot.app.screen.query_one("#source", Select).value = ("console_form", instance)
    await settle(pilot)



async def test_models_with_context_price_deprecation_and_rules(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await show_console_form(pilot)
        screen = app.screen
        assert rows(screen.query_one("#models", DataTable)) == [
            ["console-chat", "llm", 32000, "0.50/1.50 USD /1M", ""],
            ["console-legacy", "llm", 4096, "", "yes"],
            ["console-embed", "emb", 8191, "0.02 USD /1M", ""],
        ]
        info = text(screen.query_one("#model-info", Static))
        assert info == "console-chat (predefined-model): features vision, tool-call"
        rules = rows(screen.query_one("#rules", DataTable))
        assert [r[:4] for r in rules] == [
            ["temperature", "float", "0..2", "1.0"],
            ["max_tokens", "int", "1..4096", "256"],
            ["response_format", "string", "text|json_object|json_schema", ""],
            ["stop", "tag", "", ""],
        ]
        assert rules[0][4].startswith("Randomness of the answer")
        await pilot.press("down")  # the rules follow the highlighted model
        await settle(pilot)
        assert [r[0] for r in rows(screen.query_one("#rules", DataTable))] == ["temperature"]


async def test_by_type_and_by_instance(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await show_console_form(pilot, instance="form")
        screen = app.screen
        screen.query_one("#type", Select).value = "text-embedding"
        await settle(pilot)
        assert [r[0] for r in rows(screen.query_one("#models", DataTable))] == ["console-embed"]
        assert text(screen.query_one("#model-info", Static)).startswith("console-embed")


def test_snapshot_models(console: ConsoleGateway, snap_compare: Any) -> None:
    assert snap_compare(console.app(), run_before=show_console_form)
