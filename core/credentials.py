"""Credentials checked against a credential form (``credential_form_schemas``).

The same rules serve the profile loader (at start-up) and, later, the validation endpoints: unknown keys,
missing required keys, options of select and radio fields, ``max_length`` and ``show_on`` conditions (a field
counts only while every condition holds; ``__model_type`` is the model type of the model being configured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .schema import CredentialFormSchema, FormType, ShowOn

__all__ = ["CredentialCheck", "CredentialProblem", "CredentialValueError", "check_credentials", "positive_int"]


class CredentialProblem(msgspec.Struct, frozen=True):
    """One mistake: the credential's variable and what is wrong."""

    variable: str
    message: str


class CredentialValueError(ValueError):
    """A credential that passed its form but means nothing to the provider (``context_size: abc``)."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable, self.message = variable, message


def positive_int(credentials: Mapping[str, Any], variable: str) -> int | None:
    """A text-input credential holding a whole number above zero; ``None`` when absent or empty."""
    value = credentials.get(variable)
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number <= 0:
        raise CredentialValueError(variable, f"must be a whole number above zero, not '{value}'")
    return number


class CredentialCheck(msgspec.Struct, kw_only=True):
    """The outcome: values with defaults filled, mistakes, and required fields left empty."""

    values: dict[str, Any]
    problems: list[CredentialProblem]
    empty_required: list[str]


def check_credentials(
    forms: Sequence[CredentialFormSchema],
    given: Mapping[str, Any],
    *,
    owner: str,
    model_type: str | None = None,
) -> CredentialCheck:
    """Check ``given`` against ``forms``; ``owner`` names the provider in messages."""
    known = {f.variable for f in forms}
    values: dict[str, Any] = {k: _normalise(v) for k, v in given.items()}
    problems = [
        CredentialProblem(k, f"unknown credential (known: {', '.join(sorted(known)) or 'none'})")
        for k in values if k not in known
    ]
    empty: list[str] = []
    context = {"__model_type": model_type or "", **{k: str(v) for k, v in values.items()}}
    for form in forms:
        if not _shown(form.show_on, context):
            continue
        if form.variable not in values:
            if form.default is not None:
                values[form.variable] = form.default
            elif form.required:
                problems.append(CredentialProblem(form.variable, f"required by provider '{owner}'"))
            continue
        value = values[form.variable]
        if value in ("", None):
            if form.required:
                empty.append(form.variable)
            continue
        message = _check_value(form, value, context)
        if message:
            problems.append(CredentialProblem(form.variable, message))
    return CredentialCheck(values=values, problems=problems, empty_required=empty)


def _normalise(value: Any) -> Any:
    # YAML turns `port: 8080` into an int; credentials are strings (or booleans for switches).
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _shown(show_on: Sequence[ShowOn], context: Mapping[str, str]) -> bool:
    return all(context.get(cond.variable) == cond.value for cond in show_on)


def _check_value(form: CredentialFormSchema, value: Any, context: Mapping[str, str]) -> str | None:
    if form.type is FormType.SWITCH:
        return None if value in (True, False, "true", "false") else "must be true or false"
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if form.type in (FormType.SELECT, FormType.RADIO):
        allowed = [o.value for o in form.options if _shown(o.show_on, context)]
        if value not in allowed:
            return f"must be one of: {', '.join(allowed)}"
    if form.max_length and len(value) > form.max_length:
        return f"is longer than {form.max_length} characters"
    return None
