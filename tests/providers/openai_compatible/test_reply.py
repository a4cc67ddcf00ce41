"""Reading a complete upstream body: only JSON-ness is required, usage is read when it is sensible."""

from __future__ import annotations

import msgspec
import pytest

from core.openai.usage import Usage
from providers.openai_compatible.provider import read_usage


def test_usage_is_read() -> None:
    usage = read_usage(b'{"id": "x", "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}')
    assert usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    assert read_usage(b'{"usage": {"prompt_tokens": 3.0, "total_tokens": 3}}') == Usage(prompt_tokens=3,
                                                                                         total_tokens=3)


@pytest.mark.parametrize("body", [b'{"id": "x"}', b'{"usage": null}', b'{"usage": {"prompt_tokens": null}}',
                                  b'{"usage": {"prompt_tokens": 1.5}}', b'{"usage": "lots"}', b"[1, 2]",
                                  b'"text"'])
def test_odd_but_valid_json_has_no_usage(body: bytes) -> None:
    assert read_usage(body) is None


@pytest.mark.parametrize("body", [b"<html>", b'{"usage": {"prompt_tokens": 1}', b"[1, 2", b""])
def test_not_json_raises(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        read_usage(body)


@pytest.mark.parametrize("body", [
    b'{"data": [{"embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 4, "total_tokens": 4}}',  # last: fast path
    b'{"usage": {"prompt_tokens": 4, "total_tokens": 4}, "system_fingerprint": "x"}',  # not last
    b'  {"usage" : {"prompt_tokens": 4, "total_tokens": 4} }\n',  # spaces around
    b'{"note": "usage", "usage": {"prompt_tokens": 4, "total_tokens": 4}}',  # "usage" also as a value
])
def test_usage_wherever_it_is(body: bytes) -> None:
    assert read_usage(body) == Usage(prompt_tokens=4, total_tokens=4)


@pytest.mark.parametrize("body", [
    b'{"choices": [{"usage": {"prompt_tokens": 9}}], "x": 1}',  # nested only: not the body's usage
    b'{"data": [{"usage": {"prompt_tokens": 9, "total_tokens": 9}}]}',
])
def test_a_nested_usage_is_not_the_body_usage(body: bytes) -> None:
    assert read_usage(body) is None
