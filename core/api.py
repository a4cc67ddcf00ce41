"""Request and response objects of the gateway's own endpoints (the catalogue and token counting).

OpenAI's objects live in :mod:`core.openai`; these are ours, shared by the server and its clients (the console).
"""

from __future__ import annotations

from typing import Any, Literal

from .openai.base import WireBase
from .openai.chat import ChatMessage, Tool

__all__ = ["TokenCountRequest", "TokenCountResponse", "ValidateCredentials", "ValidateModelCredentials",
           "ValidationResult"]


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


class TokenCountRequest(WireBase, kw_only=True):
    """Either ``messages`` (with ``tools``) as for chat, or ``input`` as for embeddings and completions."""

    model: str
    messages: list[ChatMessage] | None = None
    tools: list[Tool] | None = None
    input: str | list[str | int | list[int]] | None = None


class TokenCountResponse(WireBase, kw_only=True):
    """The count; ``estimated`` when the model's tokenizer is unknown or parts cannot be counted exactly."""

    object: Literal["tokens.count"] = "tokens.count"
    model: str
    tokens: int
    encoding: str | None
    estimated: bool
    context_size: int | None = None
