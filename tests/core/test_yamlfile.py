"""YAML with locations: lines of keys and items, environment references, located conversion errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.schema import CredentialFormSchema
from core.yamlfile import ConfigError, format_key, load_yaml, to_struct


def test_lines_and_env_references(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb:\n  - x: ${HOME_DIR}\n    y: ${NOPE:-dflt}\n  - z: [\"${N:-1}\", 2]\n")
    source = load_yaml(path, {"HOME_DIR": "/h"})
    assert source.data == {"a": 1, "b": [{"x": "/h", "y": "dflt"}, {"z": ["1", 2]}]}
    assert source.line_of(("b", 0, "y")) == 4 and source.line_of(("b", 1, "z", 1)) == 5
    assert source.line_of(("b", 0, "missing")) == 3  # falls back to the enclosing key
    assert source.env_vars[("b", 0, "x")] == ("HOME_DIR",)


def test_default_replaces_an_empty_variable_as_the_shell_does(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: ${EMPTY:-fallback}\nb: ${EMPTY}\nc: ${SET:-fallback}\n")
    assert load_yaml(path, {"EMPTY": "", "SET": "v"}).data == {"a": "fallback", "b": "", "c": "v"}


def test_without_env_nothing_is_substituted(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: ${NOT_A_PROFILE}\n")
    assert load_yaml(path).data == {"a": "${NOT_A_PROFILE}"}


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {p: 1, q: 2}\nitem:\n  <<: *b\n  q: 3\n")
    assert load_yaml(path, {}).data["item"] == {"p": 1, "q": 3}


def test_conversion_error_is_located(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("forms:\n  - variable: v\n    label: {en_US: V}\n    type: secret-inputx\n")
    source = load_yaml(path)
    with pytest.raises(ConfigError) as caught:
        to_struct(source, source.data["forms"][0], CredentialFormSchema, ("forms", 0))
    assert str(caught.value) == f"{path}:4: forms[0].type: invalid value 'secret-inputx'"


def test_format_key() -> None:
    assert format_key(("providers", 1, "credentials", "api_key")) == "providers[1].credentials.api_key"
    assert format_key((0, "a")) == "[0].a"


def test_yaml_booleans_get_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("forms:\n  - variable: off\n    label: {en_US: V}\n    type: text-input\n")
    source = load_yaml(path)
    with pytest.raises(ConfigError, match=r"forms\[0\].variable: expected str, got bool .*quote the value"):
        to_struct(source, source.data["forms"][0], CredentialFormSchema, ("forms", 0))


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"x\.yaml:2: not valid UTF-8"):
        load_yaml(path)
