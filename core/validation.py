"""One reading of msgspec's validation messages, shared by request decoding and profile loading.

msgspec reports ``Expected `int`, got `str` - at `$.providers[1].port```; callers want the key as a path they
can locate (a YAML line, an OpenAI ``param``) and a message without msgspec's punctuation.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

__all__ = ["Key", "Problem", "format_key", "read_validation_error"]

Key = tuple[str | int, ...]

_AT_PATH = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]+)\]")
_FIELD = re.compile(r"(missing required|unknown) field `([^`]+)`")


class Problem(msgspec.Struct, frozen=True):
    """What is wrong, and where."""

    kind: Literal["missing", "unknown", "invalid"]
    key: Key
    message: str


def format_key(key: Key) -> str:
    """``("providers", 1, "credentials")`` → ``providers[1].credentials``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def read_validation_error(error: msgspec.ValidationError) -> Problem:
    """Split a msgspec validation error into kind, key (missing/unknown field names included) and message."""
    text = str(error)
    match = _AT_PATH.search(text)
    message = text[: match.start()] if match else text
    key: list[str | int] = []
    if match:
        for name, index, dict_key in _PATH_PART.findall(match.group(1)):
            if dict_key != "...":  # a value of a mapping, msgspec not saying under which key: the mapping
                key.append(int(index) if index else (name or dict_key))
    field = _FIELD.search(message)
    if field:
        key.append(field.group(2))
        kind: Literal["missing", "unknown"] = "missing" if field.group(1).startswith("missing") else "unknown"
        return Problem(kind, tuple(key), "required key is missing" if kind == "missing" else "unknown key")
    message = message.replace("Expected", "expected").replace("Invalid enum value", "invalid value")
    return Problem("invalid", tuple(key), message.replace("`", ""))
