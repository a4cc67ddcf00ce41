"""Masking for display and redaction of messages: nothing of a secret survives but what is meant to."""

from __future__ import annotations

import pytest

from core.secrets import Redactor, mask, mask_url


@pytest.mark.parametrize(("value", "masked"), [
    ("sk-proj-abcdefghijklmnopqrstuvwxyz1234", "sk-...1234"),
    ("gsk_0123456789abcdefghijklmn", "gsk_...klmn"),
    ("0123456789abcdef0123456789", "...6789"),  # no vendor tag: only the last four
    ("short-secret", "****"),
])
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


@pytest.mark.parametrize(("url", "masked"), [
    ("redis://:hunter2@cache:6379/0", "redis://****@cache:6379/0"),
    ("http://user:p@ss@host/v1", "http://****@host/v1"),
    ("https://ghp_TOKEN1234@host/v1", "https://****@host/v1"),
    ("https://host/v1?api-key=SECRET123&deployment=x", "https://host/v1?api-key=****&deployment=x"),
    ("https://host/v1?sig=abc&X-Amz-Signature=def", "https://host/v1?sig=****&X-Amz-Signature=****"),
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ("see http://a:b@c/ or http://d/e@f", "see http://****@c/ or http://d/e@f"),
])
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redactor_replaces_known_values_and_url_secrets() -> None:
    redact = Redactor(["sk-known-secret-value", "abc"])  # too short to redact safely: left alone
    assert redact("key sk-known-secret-value at http://u:pw@host/v1 abc") == "key **** at http://****@host/v1 abc"
