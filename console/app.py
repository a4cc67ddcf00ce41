"""The console app: a mode per screen (F1 to F4), the gateway's status on top, help on ``?``.

``ConsoleApp(Gateway(url, key)).run()`` is what ``model-runtime console`` does. The app never imports the server
or the providers: everything it shows comes over HTTP through :class:`~console.api.Gateway`.
"""

from __future__ import annotations

from functools import partial

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.markup import escape
from textual.reactive import reactive

from .api import ConsoleError, Gateway, GatewayDown, KeyRejected
from .screens.help import HelpScreen
from .screens.models import ModelsScreen
from .screens.playground import PlaygroundScreen
from .screens.profile import ProfileScreen
from .screens.providers import ProvidersScreen
from .wire import Health

__all__ = ["ConsoleApp"]

SCREENS = {"providers": ProvidersScreen, "models": ModelsScreen, "profile": ProfileScreen,
           "playground": PlaygroundScreen}
THEMES = {"dark": "textual-dark", "light": "textual-light"}


class ConsoleApp(App[None]):
    """The terminal console of a running gateway."""

    CSS_PATH = "app.tcss"
    TITLE = "Model Runtime console"
    BINDINGS = [
        Binding("f1", "switch_mode('providers')", "Providers"),
        Binding("f2", "switch_mode('models')", "Models"),
        Binding("f3", "switch_mode('profile')", "Profile"),
        Binding("f4", "switch_mode('playground')", "Playground"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),
    ]

    status_line: reactive[str] = reactive("")
    """The top line of every screen."""

    def __init__(self, gateway: Gateway, *, theme: str = "dark", health_every_s: float = 15.0) -> None:
        super().__init__()
        self.gateway = gateway
        self._theme_name = THEMES.get(theme, theme)
        self._health_every_s = health_every_s
        self._version = ""
        for name, screen in SCREENS.items():
            self.add_mode(name, partial(screen, gateway))

    def on_mount(self) -> None:
        """First screen, theme, and the health checks that keep the status line current."""
        self.theme = self._theme_name
        self.status_line = f"Model Runtime  {self.gateway.url}  connecting..."
        self.switch_mode("providers")
        self.check_gateway()
        self.set_interval(self._health_every_s, self.check_gateway)

    async def on_unmount(self) -> None:
        """Close the connection pool."""
        await self.gateway.aclose()

    @work(exclusive=True, group="health")
    async def check_gateway(self) -> None:
        """Ask the gateway how it is; until it took the key once, also whether it takes it (and its version)."""
        prefix = f"Model Runtime  {escape(self.gateway.url)}"
        try:
            health = await self.gateway.health()
            if not self._version:
                await self.gateway.model_ids()
                self._version = await self._fetch_version()
        except GatewayDown:
            self.status_line = f"{prefix}  [$text-error]● unreachable[/]"
        except KeyRejected:
            self.status_line = f"{prefix}  [$text-error]● API key rejected[/]"
        except ConsoleError as exc:
            self.status_line = f"{prefix}  [$text-error]● {escape(exc.message[:40])}[/]"
        else:
            self.status_line = f"{prefix}  {self._version}  {_health(health)}"

    async def _fetch_version(self) -> str:
        try:
            return f"v{await self.gateway.version()}"
        except ConsoleError:  # a gateway without its OpenAPI document still serves
            return "v?"

    def action_help(self) -> None:
        """Show the key bindings."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        """Switch between the light and dark theme."""
        self.theme = THEMES["light"] if self.theme == THEMES["dark"] else THEMES["dark"]


def _health(health: Health) -> str:
    """``● ready  3/4 instances ok  1 cooling down``."""
    ok = sum(1 for p in health.providers.values() if p.status == "ok")
    line = f"{ok}/{len(health.providers)} instances ok"
    if health.cooldowns:
        line += f"  {len(health.cooldowns)} cooling down"
    colour = "$text-success" if health.status == "ready" and not health.cooldowns else "$text-warning"
    return f"[{colour}]● {health.status}[/]  {line}"
