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

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "ClientClosedRequest",
    "CredentialsValidateFailedError",
    "InternalError",
    "InvalidRequestError",
    "MethodNotAllowedError",
    "ModelNotFoundError",
    "ModelRuntimeError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProviderAccountError",
    "ProviderAuthenticationError",
    "ProviderNotConfiguredError",
    "QuotaExceededError",
    "RateLimitError",
    "StreamAborted",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "for_status",
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
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after
        self.headers = headers
        """Extra response headers (a 429's ``x-ratelimit-*``)."""


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


class MethodNotAllowedError(ModelRuntimeError):
    """The route exists but not for this HTTP method (405)."""

    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


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


class QuotaExceededError(RateLimitError):
    """A gateway key spent its budget for the period (429, OpenAI's ``insufficient_quota``)."""

    type = "insufficient_quota"
    default_code = "insufficient_quota"


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


class ProviderAccountError(UpstreamUnavailableError):
    """The provider refuses the gateway's own account: out of credit or in arrears (an upstream 402), or not
    allowed this call (an upstream 403). An operator problem, not the caller's: 503, and another deployment is
    tried, not this one again."""

    default_code = "provider_account_blocked"


class ProviderNotConfiguredError(UpstreamUnavailableError):
    """The provider instance lacks a required credential in this profile (503)."""

    default_code = "provider_not_configured"


class UpstreamTimeoutError(ModelRuntimeError):
    """The upstream did not answer in time (504)."""

    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"


class ClientClosedRequest(ModelRuntimeError):
    """The client went away before the answer was ready (nginx's 499); nobody reads it, logs and metrics do."""

    status = 499
    type = "client_closed_request"
    default_code = "client_closed_request"


class CredentialsValidateFailedError(InvalidRequestError):
    """Credentials given for validation were rejected (400)."""

    default_code = "invalid_credentials"


class StreamAborted(Exception):
    """Raised inside a binary response (speech audio) the upstream broke off, so the server drops the connection
    instead of finishing the body: the client sees a truncated transfer, never a silently short file.

    Already logged where it is raised; the server's log configuration hides the traceback uvicorn would print.
    """


_CLIENT_ERRORS: dict[int, type[ModelRuntimeError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}
_UPSTREAM_ERRORS: dict[int, type[ModelRuntimeError]] = {
    401: ProviderAuthenticationError,  # the gateway's credentials, not the caller's key
    402: ProviderAccountError,  # the gateway's account: out of credit
    403: ProviderAccountError,  # the gateway's account: not allowed this model, region or feature
    405: UpstreamError,  # a wrong base_url, not the caller's method
    408: UpstreamTimeoutError,
    503: UpstreamUnavailableError,
    504: UpstreamTimeoutError,
    529: UpstreamUnavailableError,  # "overloaded"
}


def for_status(status: int, *, upstream: bool = False) -> type[ModelRuntimeError]:
    """The class for an HTTP status: our own (``upstream=False``) or one an upstream answered with.

    Other 4xx statuses are the request's fault (400); other 5xx are ours (500) or the upstream's (502).
    """
    if upstream and status in _UPSTREAM_ERRORS:
        return _UPSTREAM_ERRORS[status]
    if status >= 500:
        return UpstreamError if upstream else (UpstreamUnavailableError if status == 503 else InternalError)
    return _CLIENT_ERRORS.get(status, InvalidRequestError)
