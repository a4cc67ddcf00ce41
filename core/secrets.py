"""Keeping secrets out of responses, logs and error messages."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Redactor", "mask"]

_MIN_SECRET = 4  # shorter values would blank out ordinary words


def mask(value: str) -> str:
    """A masked form for display: never more than the last four characters of a long secret."""
    return "****" + value[-4:] if len(value) >= 16 else "****"


class Redactor:
    """Replaces known secret values in text (upstream error messages may echo what they were sent)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return text
