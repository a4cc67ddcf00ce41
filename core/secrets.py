"""Keeping secrets out of responses, logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Redactor", "mask", "mask_url"]

_MIN_SECRET = 4  # shorter values would blank out ordinary words
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)(?P<password>[^/@\s]+)(?=@)")


def mask(value: str) -> str:
    """A masked form for display, as key dashboards show them: ``sk-...abcd``; short values are ``****``."""
    return f"{value[:3]}...{value[-4:]}" if len(value) >= 20 else "****"


def mask_url(value: str) -> str:
    """``redis://:hunter2@host`` → ``redis://:****@host``: the password of a URL is never shown."""
    return _URL_PASSWORD.sub(r"\g<head>****", value)


class Redactor:
    """Replaces known secret values in text (upstream error messages may echo what they were sent)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return mask_url(text)
