"""YAML that remembers where each value came from.

Profiles and catalogue files are read through :func:`load_yaml`, which keeps the line of every key and item and,
for profiles, replaces ``${VAR}`` / ``${VAR:-default}`` with environment values while remembering which variable
fed which value. :func:`to_struct` converts the data into ``ConfigBase`` Structs and turns any mismatch into a
:class:`ConfigError` that names the file, the line and the key (``profiles/x.yaml:14: providers[1].model: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from .validation import Key, format_key, read_validation_error

__all__ = ["ConfigError", "Key", "Location", "YAMLSource", "format_key", "load_yaml", "to_struct"]

T = TypeVar("T")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A mistake in a profile or catalogue file; ``str()`` reads ``file:line: key: message``."""

    def __init__(self, file: str, line: int | None, key: str, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        self.file, self.line, self.key, self.message = file, line, key, message


class Location(msgspec.Struct, frozen=True):
    """Where a value sits: file and 1-based line."""

    file: str
    line: int


class YAMLSource:
    """Parsed YAML data plus the line of every key and the environment variables behind every value.

    A source converted from another format (a Chatchat profile) keeps the original lines and names: ``origin``
    maps keys of the converted data to the keys they came from, so mistakes are reported as the user wrote them.
    """

    def __init__(self, file: str, data: Any, lines: dict[Key, int], env_vars: dict[Key, tuple[str, ...]],
                 origin: dict[Key, Key] | None = None) -> None:
        self.file, self.data, self.lines, self.env_vars = file, data, lines, env_vars
        self.origin = origin or {}

    def original(self, key: Key) -> Key:
        """The key as written in the file (the same key unless the data was converted)."""
        for end in range(len(key), -1, -1):
            if key[:end] in self.origin:
                return self.origin[key[:end]] + key[end:]
        return key

    def line_of(self, key: Key) -> int | None:
        """The line of ``key`` or of its nearest enclosing key."""
        key = self.original(key)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def env_of(self, key: Key) -> tuple[str, ...]:
        """The environment variables substituted into the value at ``key``."""
        return self.env_vars.get(self.original(key), ())

    def error(self, key: Key, message: str) -> ConfigError:
        """A :class:`ConfigError` located at ``key``."""
        return ConfigError(self.file, self.line_of(key), format_key(self.original(key)), message)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML was built with it (13x faster on the ~100 catalogue files read at start-up), with
the same node marks, so lines are still reported; the pure-Python loader otherwise."""

def load_yaml(path: str | Path, env: Mapping[str, str] | None = None) -> YAMLSource:
    """Read a YAML file; with ``env``, substitute ``${VAR}`` and ``${VAR:-default}`` in string values."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, None, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        bad_line = Path(path).read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(file, bad_line, "", "not valid UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(file, loader, env)
        data = builder.build(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(file, line, "", f"invalid YAML: {exc.problem or exc.context}") from None
    finally:
        loader.dispose()
    return YAMLSource(file, data, builder.lines, builder.env_vars)


class _Builder:
    """Walks a composed YAML node tree into plain Python data, recording lines and env references."""

    def __init__(self, file: str, loader: yaml.SafeLoader | yaml.CSafeLoader, env: Mapping[str, str] | None) -> None:
        self.file, self.loader, self.env = file, loader, env
        self.lines: dict[Key, int] = {}
        self.env_vars: dict[Key, tuple[str, ...]] = {}

    def build(self, node: yaml.Node, key: Key) -> Any:
        self.lines.setdefault(key, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            explicit = sum(k.tag != "tag:yaml.org,2002:merge" for k, _ in node.value)
            self.loader.flatten_mapping(node)
            merged = len(node.value) - explicit  # `<<: *anchor` pairs come first; explicit keys override them
            out: dict[Any, Any] = {}
            seen: set[Any] = set()
            for i, (key_node, value_node) in enumerate(node.value):
                name = self.loader.construct_object(key_node, deep=True)
                if i >= merged and name in seen:
                    raise ConfigError(self.file, key_node.start_mark.line + 1, format_key((*key, name)),
                                      "duplicate key")
                if i >= merged:
                    seen.add(name)
                self.lines[(*key, name)] = key_node.start_mark.line + 1
                out[name] = self.build(value_node, (*key, name))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*key, i)) for i, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and self.env is not None and "${" in value:
            return self._substitute(value, key, node)
        return value

    def _substitute(self, value: str, key: Key, node: yaml.Node) -> str:
        env = self.env or {}
        names: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            names.append(name)
            value = env.get(name)
            if default is not None and not value:  # shell semantics: `:-` also replaces an empty value
                return default
            if value is not None:
                return value
            raise ConfigError(self.file, node.start_mark.line + 1, format_key(key),
                              f"environment variable {name} is not set (write ${{{name}:-}} to allow empty)")

        result = _ENV_REF.sub(replace, value)
        self.env_vars[key] = tuple(names)
        return result


def to_struct(source: YAMLSource, data: Any, type_: type[T], at: Key = ()) -> T:
    """Convert ``data`` (found at ``at`` in ``source``) into ``type_``, or raise a located ConfigError."""
    try:
        # Lax mode: values substituted from the environment are strings, `port: ${PORT:-8000}` must be an int.
        return msgspec.convert(data, type_, str_keys=True, strict=False)
    except msgspec.ValidationError as exc:
        problem = read_validation_error(exc)
        message = problem.message
        if message.endswith("got bool") and "bool" not in message.removesuffix("got bool"):
            message += " (YAML reads yes/no/on/off/true/false as booleans: quote the value)"
        raise source.error((*at, *problem.key), message) from None
