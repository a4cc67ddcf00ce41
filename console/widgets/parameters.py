"""Controls for a model's parameters, built from its ``parameter_rules``.

Numbers get a number Input bounded by ``min``/``max``, options a Select, booleans a true/false Select, tags (``stop``)
an Input of comma-separated values, free text an Input. Each starts at the rule's default, as Dify's console does;
an emptied control is left out of the request, so the model's own default applies.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.validation import Integer, Number
from textual.widgets import Input, Label, Select

from core.schema import ParameterRule

from ..api import ConsoleError
from ..display import rule_range

__all__ = ["ParameterControls"]

WIRE_OBJECTS = {"response_format": "type"}
"""Parameters OpenAI takes as an object around the rule's value: ``response_format: {"type": "json_object"}``."""


class ParameterControls(Vertical):
    """One labelled control per rule; :meth:`values` gives the request's parameters."""

    def __init__(self, rules: list[ParameterRule]) -> None:
        super().__init__(classes="parameters")
        self.rules = rules
        self._controls: dict[str, Input | Select[str]] = {}

    def compose(self) -> ComposeResult:
        """A label (name, range, ``*`` when required) and a control per rule."""
        if not self.rules:
            yield Label("No parameter rules: the upstream's defaults apply.", classes="hint")
        for rule in self.rules:
            span = rule_range(rule) if not rule.options else ""
            name = rule.label.en_US if rule.label else rule.name
            label = f"{name}{' *' if rule.required else ''}{f' ({span})' if span else ''}"
            yield Label(label, classes="parameter-label")
            control = _control(rule)
            control.tooltip = rule.help.en_US if rule.help else None
            self._controls[rule.name] = control
            yield control

    def control(self, name: str) -> Input | Select[str]:
        """The control of the parameter ``name``."""
        return self._controls[name]

    def values(self) -> dict[str, Any]:
        """The parameters to send; :class:`ConsoleError` names a value that is not of its rule's type."""
        out: dict[str, Any] = {}
        for rule in self.rules:
            control = self._controls[rule.name]
            raw = control.value if isinstance(control.value, str) else ""  # a Select left blank is NULL
            if raw.strip():
                value = _typed(rule, raw.strip())
                out[rule.name] = {WIRE_OBJECTS[rule.name]: value} if rule.name in WIRE_OBJECTS else value
        return out


def _control(rule: ParameterRule) -> Input | Select[str]:
    default = _text(rule.default)
    if rule.options or rule.type == "boolean":
        options = rule.options or ["true", "false"]
        return Select[str]([(o, o) for o in options], value=default if default in options else Select.NULL,
                           prompt="default", compact=True)
    if rule.type in ("int", "float"):
        check = Integer if rule.type == "int" else Number
        return Input(default, type="integer" if rule.type == "int" else "number", compact=True,
                     validators=[check(minimum=rule.min, maximum=rule.max)], valid_empty=True)
    return Input(default, placeholder="comma-separated" if rule.type == "tag" else "", compact=True)


def _text(value: float | str | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _typed(rule: ParameterRule, raw: str) -> Any:
    try:
        match rule.type:
            case "int":
                return int(raw)
            case "float":
                return float(raw)
            case "boolean":
                return raw == "true"
            case "tag":
                return [part.strip() for part in raw.split(",") if part.strip()]
            case _:
                return raw
    except ValueError:
        raise ConsoleError(f"{rule.name}: '{raw}' is not a{'n integer' if rule.type == 'int' else ' number'}") \
            from None
