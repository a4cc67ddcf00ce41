"""What every playground tab shares: a model picker for its model type, a Run button, and a line
that says what happened (who answered, what it cost) or, in words, what went wrong."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Select, Static

from core.openai.models import Model

from ..api import ConsoleError, Gateway
from ..wire import CallInfo

__all__ = ["PlaygroundPane"]


class PlaygroundPane(Vertical):
    """A tab of the playground; subclasses compose their inputs and implement :meth:`call`."""

    MODEL_TYPE: ClassVar[str]
    """The model type offered in the picker (``llm``, ``text-embedding``, ...)."""
    BLANK_MEANS: ClassVar[str | None] = None
    """What an empty picker means, when the call needs no model (``default model``); None: one is picked."""

    def __init__(self, gateway: Gateway, *, id: str) -> None:
        super().__init__(id=id, classes="pane")
        self.gateway = gateway
        self.models: dict[str, Model] = {}

    def model_picker(self) -> Select[str]:
        """The model picker, filled by :meth:`offer_models`."""
        return Select[str]([], prompt=self.BLANK_MEANS or "Model", classes="model", compact=True)

    def outcome(self) -> Static:
        """The line reporting the last run."""
        return Static(classes="outcome", markup=False)

    def bar(self, label: str, *middle: Widget) -> Horizontal:
        """The top row: the model picker, ``middle``, and the button (``label``) that runs the call."""
        return Horizontal(self.model_picker(), *middle, Button(label, classes="run", compact=True), classes="bar")

    def offer_models(self, models: list[Model]) -> None:
        """Offer the models of this tab's type; the first is picked."""
        self.models = {m.id: m for m in models}
        mine = [m.id for m in models if m.model_type == self.MODEL_TYPE]
        picker = self.query_one(".model", Select)
        picker.set_options((name, name) for name in mine)
        if mine and self.BLANK_MEANS is None:
            picker.value = mine[0]

    @property
    def model(self) -> str | None:
        """The picked model."""
        value = self.query_one(".model", Select).value
        return value if isinstance(value, str) else None

    @on(Button.Pressed, ".run")
    def _run_pressed(self) -> None:
        self.run_call()

    @work(exclusive=True, group="run")
    async def run_call(self) -> None:
        """Call the gateway; a failure becomes the outcome line."""
        model = self.model
        if model is None and self.BLANK_MEANS is None:
            self.report(f"No {self.MODEL_TYPE} model picked: GET /v1/models lists none here?", failed=True)
            return
        self.report("working...")
        try:
            await self.call(model or "")
        except ConsoleError as exc:
            self.report(exc.message, failed=True)

    async def call(self, model: str) -> None:
        """Make the call with ``model`` (``""``: none picked, where :attr:`BLANK_MEANS` allows) and show the
        result."""
        raise NotImplementedError

    def report(self, text: str, *, failed: bool = False) -> None:
        """Say what happened."""
        line = self.query_one(".outcome", Static)
        line.set_class(failed, "-failed")
        line.update(text)

    def report_call(self, summary: str, info: CallInfo) -> None:
        """``summary`` with who answered and what it cost."""
        via = f" via {info.deployment}" if info.deployment else ""
        cost = f", {info.cost} {info.currency or ''}".rstrip() if info.cost else ""
        self.report(f"{summary}{via}{cost}")
