"""The one status → error class map, for our own statuses and for upstream ones."""

from __future__ import annotations

import pytest

from core import errors


@pytest.mark.parametrize(("status", "ours", "theirs"), [
    (400, errors.InvalidRequestError, errors.InvalidRequestError),
    (401, errors.AuthenticationError, errors.ProviderAuthenticationError),
    (402, errors.InvalidRequestError, errors.ProviderAccountError),
    (403, errors.PermissionDeniedError, errors.ProviderAccountError),
    (404, errors.NotFoundError, errors.NotFoundError),
    (405, errors.MethodNotAllowedError, errors.UpstreamError),
    (408, errors.InvalidRequestError, errors.UpstreamTimeoutError),
    (413, errors.PayloadTooLargeError, errors.PayloadTooLargeError),
    (415, errors.InvalidRequestError, errors.InvalidRequestError),
    (429, errors.RateLimitError, errors.RateLimitError),
    (500, errors.InternalError, errors.UpstreamError),
    (503, errors.UpstreamUnavailableError, errors.UpstreamUnavailableError),
    (504, errors.InternalError, errors.UpstreamTimeoutError),
    (529, errors.InternalError, errors.UpstreamUnavailableError),
])
def test_for_status(status: int, ours: type[errors.ModelRuntimeError], theirs: type[errors.ModelRuntimeError]) -> None:
    assert errors.for_status(status) is ours
    assert errors.for_status(status, upstream=True) is theirs


def test_every_class_renders_a_status_and_type() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.ModelRuntimeError):
            error = cls("m")
            assert 400 <= error.status < 600 and error.type and error.message == "m"
