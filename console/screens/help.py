"""``?``: what each screen shows and which keys do what."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

__all__ = ["HelpScreen"]

HELP = """\
# Model Runtime console

Everything here comes from the gateway over HTTP, with the key given by `--api-key`.

| Key | Does |
|---|---|
| F1 | Providers: plug-ins, their instances, credential forms (Enter opens one) |
| F2 | Models: per provider and type, with prices and parameter rules |
| F3 | Profile: instances, routes and their health, the masked profile |
| F4 | Playground: chat, embeddings, rerank, speech, transcription, moderation |
| / | Filter the provider list |
| Ctrl+S | Validate the provider form |
| Ctrl+R | Run the playground tab (Enter in the chat prompt sends) |
| Escape | Stop a chat answer; go back from a provider |
| Ctrl+T | Light or dark theme |
| Ctrl+Q | Quit |
"""


class HelpScreen(ModalScreen[None]):
    """The key bindings and what the screens are for; any of Escape, ``?`` or ``q`` closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        """The help text."""
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
