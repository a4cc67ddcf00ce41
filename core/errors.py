"""The unified error hierarchy.

Every failure that reaches a client is one of these classes. Each pins the HTTP status, OpenAI's error ``type``
and a default ``code``, so the server renders any of them as ``{"error": {"message", "type", "param", "code"}}``
without knowing where it came from. Providers translate upstream failures into these at their HTTP boundary
(see ``providers/*/errors.py``); nothing above that boundary sees httpx or vendor exceptions.

Dify's invoke errors map one to one: ``InvokeBadRequestError`` → :class:`InvalidRequestError`,
``InvokeAuthorizationError`` → :class:`ProviderAuthenticationError`, ``InvokeRateLimitError`` →
:class:`RateLimitError`, ``InvokeServerUnavailableError`` → :class:`UpstreamUnavailableError`,
``InvokeConnectionError`` → :class:`UpstreamConnectionError`, ``CredentialsValidateFailedError`` →
:class:`CredentialsValidateFailedError`.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "CredentialsValidateFailedError",
    "InternalError",
    "InvalidRequestError",
    "ModelNotFoundError",
    "ModelRuntimeError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProviderAuthenticationError",
    "ProviderNotConfiguredError",
    "RateLimitError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
]


class ModelRuntimeError(Exception):
    """Base of every error a client can see; carries what the OpenAI error body needs."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after


class InvalidRequestError(ModelRuntimeError):
    """The request is malformed or asks for something impossible (400)."""

    status = 400
    type = "invalid_request_error"


class AuthenticationError(ModelRuntimeError):
    """The caller's gateway key is missing or wrong (401)."""

    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class ProviderAuthenticationError(AuthenticationError):
    """The upstream rejected the gateway's own credentials for a provider (401): an operator problem."""

    default_code = "provider_authentication_failed"


class PermissionDeniedError(ModelRuntimeError):
    """The caller (or the gateway's credentials upstream) may not use this resource (403)."""

    status = 403
    type = "permission_error"


class NotFoundError(ModelRuntimeError):
    """No such route or resource (404)."""

    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFoundError(NotFoundError):
    """The requested model is not served here (404)."""

    default_code = "model_not_found"


class PayloadTooLargeError(ModelRuntimeError):
    """The request body exceeds the configured limit (413)."""

    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimitError(ModelRuntimeError):
    """A rate limit was hit, ours or the upstream's (429)."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class InternalError(ModelRuntimeError):
    """A bug on our side (500). The message never carries internals."""

    status = 500
    type = "server_error"
    default_code = "internal_error"


class UpstreamError(ModelRuntimeError):
    """The upstream failed or answered something unusable (502)."""

    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class UpstreamConnectionError(UpstreamError):
    """The upstream could not be reached (502)."""

    default_code = "upstream_connection_error"


class UpstreamUnavailableError(ModelRuntimeError):
    """The upstream is overloaded or down, or the provider cannot serve right now (503)."""

    status = 503
    type = "service_unavailable"
    default_code = "upstream_unavailable"


class ProviderNotConfiguredError(UpstreamUnavailableError):
    """The provider instance lacks a required credential in this profile (503)."""

    default_code = "provider_not_configured"


class UpstreamTimeoutError(ModelRuntimeError):
    """The upstream did not answer in time (504)."""

    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"


class CredentialsValidateFailedError(InvalidRequestError):
    """Credentials given for validation were rejected (400)."""

    default_code = "invalid_credentials"
