"""The top line of every screen: which gateway, its version, and whether it is healthy."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["GatewayStatus"]


class GatewayStatus(Static):
    """Shows the app's ``status_line``, kept current by the app's health checks."""

    def on_mount(self) -> None:
        """Follow the app's status line."""
        self.watch(self.app, "status_line", self._show)

    def _show(self, line: str) -> None:
        self.update(line)
