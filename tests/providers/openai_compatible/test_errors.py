"""The OpenAI-wire error map: upstream statuses and bodies → the gateway's error classes, secrets redacted."""

from __future__ import annotations

import httpx
import pytest

from core import errors
from core.model_types import ProviderContext
from core.secrets import Redactor
from providers.openai_compatible.errors import error_from_response, map_errors

SECRET = "sk-very-secret-upstream-key"
redact = Redactor([SECRET])


def mapped(context: ProviderContext, status: int, body: bytes, headers: dict[str, str] | None = None
           ) -> errors.ModelRuntimeError:
    return error_from_response(context, status, httpx.Headers(headers or {}), body, redact)


@pytest.mark.parametrize(("status", "cls"), [
    (400, errors.InvalidRequestError), (402, errors.ProviderAccountError), (403, errors.ProviderAccountError),
    (404, errors.NotFoundError),
    (408, errors.UpstreamTimeoutError), (409, errors.InvalidRequestError), (413, errors.PayloadTooLargeError),
    (422, errors.InvalidRequestError), (429, errors.RateLimitError), (500, errors.UpstreamError),
    (502, errors.UpstreamError), (503, errors.UpstreamUnavailableError), (504, errors.UpstreamTimeoutError),
    (529, errors.UpstreamUnavailableError),
])
def test_status_map(context: ProviderContext, status: int, cls: type[errors.ModelRuntimeError]) -> None:
    error = mapped(context, status, b'{"error": {"message": "m", "type": "x", "param": null, "code": null}}')
    assert type(error) is cls


def test_openai_body_keeps_message_param_and_code(context: ProviderContext) -> None:
    error = mapped(context, 400, b'{"error": {"message": "bad temperature", "type": "invalid_request_error", '
                                 b'"param": "temperature", "code": "invalid_value"}}')
    assert (error.message, error.param, error.code) == ("bad temperature", "temperature", "invalid_value")


def test_model_not_found_and_retry_after(context: ProviderContext) -> None:
    assert isinstance(mapped(context, 404, b'{"error": {"message": "no", "code": "model_not_found"}}'),
                      errors.ModelNotFoundError)
    assert mapped(context, 429, b"{}", {"retry-after": "7"}).retry_after == 7.0
    assert mapped(context, 429, b"{}", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}).retry_after is None


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b'{"detail": "x"}', b'{"error": 5}'])
def test_bodies_that_are_not_openai_errors(context: ProviderContext, body: bytes) -> None:
    error = mapped(context, 502, body)
    assert isinstance(error, errors.UpstreamError) and "'local'" in error.message and "502" in error.message


def test_string_error_body_and_redaction(context: ProviderContext) -> None:
    error = mapped(context, 400, f'{{"error": "key {SECRET} is malformed"}}'.encode())
    assert SECRET not in error.message and "is malformed" in error.message


def test_401_blames_the_gateway_credentials(context: ProviderContext) -> None:
    error = mapped(context, 401, f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}'.encode())
    assert isinstance(error, errors.ProviderAuthenticationError)
    assert SECRET not in error.message and "'local'" in error.message


@pytest.mark.parametrize(("exc", "cls"), [
    (httpx.ConnectTimeout("t"), errors.UpstreamTimeoutError), (httpx.ReadTimeout("t"), errors.UpstreamTimeoutError),
    (httpx.ConnectError("refused"), errors.UpstreamConnectionError),
    (httpx.RemoteProtocolError("bad"), errors.UpstreamError),
])
def test_transport_failures(context: ProviderContext, exc: Exception, cls: type[errors.ModelRuntimeError]) -> None:
    with pytest.raises(cls) as caught, map_errors(context):
        raise exc
    assert type(caught.value) is cls and "'local'" in caught.value.message
