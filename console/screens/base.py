"""What every console screen has: the gateway status line, a notice for failures, the key footer, and ``r`` to
fetch its content again."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..api import ConsoleError, Gateway
from ..widgets.status import GatewayStatus

__all__ = ["ConsoleScreen"]

T = TypeVar("T")


class ConsoleScreen(Screen[None]):
    """A screen showing what ``gateway`` says; subclasses compose their body and implement :meth:`show_content`."""

    BINDINGS = [Binding("r", "reload", "Reload")]

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway

    def compose(self) -> ComposeResult:
        """Status line, notice (hidden until something fails), body, footer."""
        yield GatewayStatus(id="status")
        yield Static(id="notice", classes="notice", markup=False)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        """Fetch the content."""
        self.action_reload()

    def action_reload(self) -> None:
        """Fetch the content (again), in a worker that replaces any still running."""
        self.run_worker(self.show_content(), exclusive=True, group="content")

    async def show_content(self) -> None:
        """Fetch what the screen shows and show it."""

    async def fetch(self, call: Awaitable[T]) -> T | None:
        """What ``call`` returns; None when it failed, the failure then shown in words where the content goes."""
        notice = self.query_one("#notice", Static)
        try:
            result = await call
        except ConsoleError as exc:
            notice.update(exc.message)
            notice.display = True
            return None
        notice.display = False
        return result
