"""A credential form rendered from ``credential_form_schemas``, with its ``show_on`` rules applied as you type.

Each field gets the widget its type calls for: ``text-input`` an Input, ``secret-input`` a password Input,
``select`` a Select, ``radio`` a RadioSet, ``switch`` a Switch; required fields are marked ``*``, placeholders and
``max_length`` are the Input's own. Fields start from their schema defaults only: the form is never given stored
credentials, so it cannot show a secret. Variables starting with ``__`` (``__model_type``) steer ``show_on`` but
are not credentials, as in Dify.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, RadioButton, RadioSet, Select, Switch

from core.schema import CredentialFormSchema, FormOption, FormType, ShowOn

__all__ = ["CredentialForm"]

ValueWidget = Input | Select[str] | RadioSet | Switch


class CredentialForm(Vertical):
    """The fields of one form; :meth:`values` gives what to send for validation."""

    def __init__(self, fields: Iterable[CredentialFormSchema], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="credential-form")
        self.fields = list(fields)
        self._widgets: dict[str, ValueWidget] = {}
        self._rows: dict[str, Vertical] = {}
        self._offered: dict[str, list[str]] = {f.variable: [o.value for o in f.options] for f in self.fields}

    def compose(self) -> ComposeResult:
        """A label and a widget per field."""
        for field in self.fields:
            widget = _widget(field)
            self._widgets[field.variable] = widget
            row = Vertical(Label(_label(field), classes="field-label"), widget, classes="field")
            self._rows[field.variable] = row
            yield row

    def on_mount(self) -> None:
        """Apply the ``show_on`` rules to the defaults."""
        self.refresh_visibility()

    def widget_for(self, variable: str) -> ValueWidget:
        """The widget holding ``variable``."""
        return self._widgets[variable]

    def value(self, variable: str) -> str:
        """The current value of ``variable`` as text (``""`` when empty, ``true``/``false`` for a switch)."""
        match self._widgets[variable]:
            case Input() as field:
                return field.value
            case Select() as choice:
                return "" if choice.value is Select.NULL else str(choice.value)
            case RadioSet() as radios:
                pressed = radios.pressed_button
                return (pressed.name or "") if pressed is not None else ""
            case Switch() as switch:
                return "true" if switch.value else "false"

    def values(self) -> dict[str, str]:
        """The credentials to send: shown fields with a value, never the ``__`` steering fields."""
        out = {}
        for field in self.fields:
            value = self.value(field.variable)
            if value and not field.variable.startswith("__") and self._rows[field.variable].display:
                out[field.variable] = value
        return out

    def refresh_visibility(self) -> None:
        """Show exactly the fields (and options) whose ``show_on`` conditions hold now."""
        context = {f.variable: self.value(f.variable) for f in self.fields}
        for field in self.fields:
            self._rows[field.variable].display = _holds(field.show_on, context)
            widget = self._widgets[field.variable]
            offered = [o for o in field.options if _holds(o.show_on, context)]
            if isinstance(widget, Select) and [o.value for o in offered] != self._offered[field.variable]:
                self._offered[field.variable] = [o.value for o in offered]
                _offer(widget, offered)
            elif isinstance(widget, RadioSet):
                for button in widget.query(RadioButton):
                    button.display = button.name in {o.value for o in offered}

    @on(Input.Changed)
    @on(Select.Changed)
    @on(RadioSet.Changed)
    @on(Switch.Changed)
    def _changed(self, event: Message) -> None:
        """A value changed: other fields (or options) may appear or go."""
        event.stop()
        self.refresh_visibility()


def _label(field: CredentialFormSchema) -> str:
    hint = f" (max {field.max_length})" if field.max_length else ""
    return f"{field.label.en_US}{' *' if field.required else ''}{hint}"


def _widget(field: CredentialFormSchema) -> ValueWidget:
    placeholder = field.placeholder.en_US if field.placeholder else ""
    match field.type:
        case FormType.SELECT:
            options = [(o.label.en_US, o.value) for o in field.options]
            value = field.default if field.default in {v for _, v in options} else Select.NULL
            return Select(options, value=value, prompt=placeholder or "Select", compact=True)
        case FormType.RADIO:
            return RadioSet(*(RadioButton(o.label.en_US, value=o.value == field.default, name=o.value)
                              for o in field.options), compact=True)
        case FormType.SWITCH:
            return Switch(value=field.default == "true")
        case _:  # text-input and secret-input
            secret = field.is_secret
            return Input("" if secret else field.default or "", placeholder=placeholder, password=secret,
                         max_length=field.max_length, compact=True)


def _holds(conditions: list[ShowOn], context: dict[str, str]) -> bool:
    return all(context.get(c.variable) == c.value for c in conditions)


def _offer(select: Select[str], options: list[FormOption]) -> None:
    """Replace a select's options, keeping its value when it is still offered."""
    current = select.value
    select.set_options((o.label.en_US, o.value) for o in options)
    if current in {o.value for o in options}:
        select.value = current
