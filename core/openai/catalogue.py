"""Request bodies of the catalogue's validation endpoints."""

from __future__ import annotations

from typing import Any

from .base import WireBase

__all__ = ["ValidateCredentials", "ValidateModelCredentials", "ValidationResult"]


class ValidateCredentials(WireBase, kw_only=True):
    """``POST /v1/providers/{provider}/credentials/validate``.

    ``credentials`` alone checks new credentials; with ``instance``, they are laid over that instance's credentials
    from the profile (an empty object checks the configured ones).
    """

    credentials: dict[str, Any] = {}
    instance: str | None = None


class ValidateModelCredentials(WireBase, kw_only=True):
    """``POST /v1/providers/{provider}/models/credentials/validate``: a customizable model and its credentials.

    The provider-level credentials come from ``provider_credentials`` laid over those of ``instance``.
    """

    model: str
    model_type: str
    """``llm``, ``text-embedding``, ... or Chatchat's aliases (``text-generation``, ``embeddings``)."""
    credentials: dict[str, Any] = {}
    provider_credentials: dict[str, Any] = {}
    instance: str | None = None


class ValidationResult(WireBase, kw_only=True):
    """``valid`` and, when not, why (never a secret)."""

    valid: bool
    error: str | None = None
