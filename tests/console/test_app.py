"""The console app: its status line, help, themes, and what it says when the gateway is down or the key wrong."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from console.api import Gateway
from console.app import ConsoleApp
from console.screens.base import ConsoleScreen
from console.screens.help import HelpScreen
from server.cli import main
from tests.conftest import GATEWAY_KEY
from tests.console.conftest import ConsoleGateway, settle, text
from tests.gateway import free_port


async def test_status_line_names_the_gateway_its_version_and_health(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        status = text(app.screen.query_one("#status", Static))
        assert "http://gateway.test" in status and "v0.1.0" in status
        assert "● ready" in status and "3/4 instances ok" in status


async def test_function_keys_switch_screens_question_mark_helps_ctrl_t_themes(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        seen = []
        for key in ("f2", "f3", "f4", "f1"):
            await pilot.press(key)
            await settle(pilot)
            seen.append(type(app.screen).__name__)
        assert seen == ["ModelsScreen", "ProfileScreen", "PlaygroundScreen", "ProvidersScreen"]
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert type(app.screen).__name__ == "ProvidersScreen"
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


async def _notices(app: ConsoleApp, pilot: Any, keys: tuple[str, ...] = ("f1", "f2", "f3", "f4")) -> list[str]:
    """The failure notice of each screen, visiting each."""
    found = []
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, ConsoleScreen)
        notice = app.screen.query_one("#notice", Static)
        found.append(text(notice) if notice.display else "")
    return found


async def test_a_gateway_that_is_down_is_a_message_on_every_screen(console: ConsoleGateway) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = ConsoleApp(Gateway(url, GATEWAY_KEY))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "● unreachable" in text(app.screen.query_one("#status", Static))
        notices = await _notices(app, pilot)
        assert all(n.startswith(f"Cannot reach the gateway at {url}") for n in notices), notices
        assert "Is `model-runtime serve` running there? Check --url." in notices[0]
    assert app.return_value is None  # ended normally, not by an exception


async def test_a_wrong_key_is_a_message_that_says_how_to_pass_one(console: ConsoleGateway) -> None:
    app = console.app(api_key="not-the-key")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "● API key rejected" in text(app.screen.query_one("#status", Static))
        notices = await _notices(app, pilot, ("f1", "f4"))
    assert all("refused the API key: Incorrect API key provided." in n for n in notices), notices
    assert "--api-key KEY" in notices[0]


def test_snapshot_help(console: ConsoleGateway, snap_compare: Any) -> None:
    assert snap_compare(console.app(), press=["question_mark"], run_before=settle)


def test_the_console_command_takes_url_key_and_theme(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        main(["console", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert all(option in shown for option in ("--url", "--api-key", "--theme"))


def test_snapshot_gateway_down(snap_compare: Any) -> None:
    app = ConsoleApp(Gateway("http://127.0.0.1:1", GATEWAY_KEY))  # nothing listens on port 1
    assert snap_compare(app, run_before=settle)
