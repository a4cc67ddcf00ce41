"""Keeping secrets out of responses, logs and error messages."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Redactor", "mask", "mask_url"]

_MIN_SECRET = 4  # shorter values would blank out ordinary words
_KEY_PREFIX = re.compile(r"^[A-Za-z]{2,4}[-_]")  # sk-, sk_, gsk_, xai-: a vendor tag, not part of the secret
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(?<=://)[^/?#\s]*@")  # greedy: the host follows the last @
_SECRET_QUERY = re.compile(r"(?i)([?&][^=&#\s]*(?:key|token|secret|password|signature|sig)[^=&#\s]*=)[^&#\s]+")


def mask(value: str) -> str:
    """A masked form for display, as key dashboards show them: ``sk-...abcd`` (the vendor tag, if any, and the
    last four characters); values under 20 characters are ``****``."""
    if len(value) < 20:
        return "****"
    tag = _KEY_PREFIX.match(value)
    return f"{tag.group(0) if tag else ''}...{value[-4:]}"


def mask_url(value: str) -> str:
    """Hide what a URL may carry: its whole userinfo (``https://token@host``, ``redis://:pw@host``) and query
    values whose names say key, token, secret, password or signature (``?api-key=...``)."""
    return _URL.sub(lambda m: _SECRET_QUERY.sub(r"\1****", _USERINFO.sub("****@", m.group(0), count=1)), value)


class Redactor:
    """Replaces known secret values in text (upstream error messages may echo what they were sent)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return mask_url(text)
