"""Every error leaves as OpenAI's error body with the right status, type, param and code, and no secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY, URL_PASSWORD, WRONG_UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

SECRETS = (GATEWAY_KEY, UPSTREAM_KEY, WRONG_UPSTREAM_KEY, URL_PASSWORD)
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
MESSAGES = [{"role": "user", "content": "hi"}]


def post(gateway: GatewayProcess, path: str, body: Any = None, *, content: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    headers = AUTH if headers is None else headers
    return httpx.post(f"{gateway.base_url}{path}", json=body, content=content, headers=headers, timeout=10)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object, after checking the body is exactly OpenAI's shape and leaks no secret."""
    assert response.headers["content-type"].startswith("application/json")
    for secret in SECRETS:
        assert secret not in response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    detail: dict[str, Any] = body["error"]
    return detail


@pytest.mark.parametrize(("body", "param", "code"), [
    (b"{not json", None, "invalid_json"),
    (b"[1, 2]", None, "invalid_json"),
    (b'{"model": "chat\xff\xfe", "messages": []}', None, "invalid_json"),
    (b"[" * 100_000, None, "invalid_json"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "temperature": 1e400}', None,
     "invalid_json"),
    (b'{"messages": []}', "model", "missing_required_parameter"),
    (b'{"model": "chat"}', "messages", "missing_required_parameter"),
    (b'{"model": 42, "messages": []}', "model", "invalid_value"),
    (b'{"model": "chat", "messages": []}', "messages", "empty_array"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": 5}]}', "messages[0].content", "invalid_value"),
    (b'{"model": "chat", "messages": [{"role": "robot", "content": "x"}]}', "messages[0].role", "invalid_value"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature",
     "invalid_value"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
     "messages[0].content[0].image_url", "missing_required_parameter"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}',
     "tools[0].function", "missing_required_parameter"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}',
     "response_format.json_schema", "missing_required_parameter"),
    # refused as OpenAI refuses them, before any provider (some would take them quietly)
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}',
     "stream_options", "invalid_value"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "n": 0}', "n", "integer_below_min_value"),
    (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "n": 129}', "n", "integer_above_max_value"),
])
def test_bad_chat_requests_are_400_naming_the_field(gateway: GatewayProcess, body: bytes, param: str | None,
                                                    code: str) -> None:
    response = post(gateway, "/chat/completions", content=body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_bad_embedding_and_completion_requests(gateway: GatewayProcess) -> None:
    for path, body, param in [("/embeddings", {"model": "embed", "input": []}, "input"),
                              ("/embeddings", {"model": "embed", "input": {"x": 1}}, "input"),
                              ("/completions", {"model": "chat"}, "prompt"),
                              ("/completions", {"model": "chat", "prompt": "x", "stream_options": {}},
                               "stream_options")]:
        response = post(gateway, path, body)
        assert response.status_code == 400 and error_of(response)["param"] == param


def test_sdk_raises_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat", messages=[])
    assert caught.value.param == "messages"


def test_unknown_model_is_404_pointing_at_models(client: openai.OpenAI) -> None:
    for model in ["no-such-model", "nowhere/gpt-4o", "openai/gpt-5", "up/"]:  # openai instance lists two models only
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
        assert caught.value.code == "model_not_found" and "/v1/models" in caught.value.message


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "chat"])
def test_model_of_the_wrong_type_is_400(client: openai.OpenAI, upstream: FakeOpenAI, model: str) -> None:
    # "chat" routes to an instance that passes any name through: the route's type still decides.
    upstream.clear()
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=model, input="x")
    assert caught.value.code == "model_type_mismatch" and caught.value.param == "model"
    assert upstream.requests == []


def test_body_over_the_limit_is_413(gateway: GatewayProcess) -> None:
    big = {"model": "chat", "messages": [{"role": "user", "content": "x" * 300_000}]}
    response = post(gateway, "/chat/completions", big)
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"


def test_chunked_bodies_are_read_whole_and_limited_too(gateway: GatewayProcess) -> None:
    # Without a Content-Length the limit is enforced while reading.
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "%s"}]}'

    def pieces(content: bytes, size: int) -> Iterator[bytes]:
        yield from (content[i:i + size] for i in range(0, len(content), size))

    small = httpx.post(f"{gateway.base_url}/chat/completions", content=pieces(body % b"hi", 7), headers=AUTH)
    assert small.status_code == 200 and small.json()["choices"][0]["message"]["content"]
    large = httpx.post(f"{gateway.base_url}/chat/completions", content=pieces(body % (b"x" * 300_000), 65536),
                       headers=AUTH, timeout=10)
    assert large.status_code == 413 and error_of(large)["code"] == "request_too_large"


def test_trailing_slash_and_provider_routes_answer_as_the_plain_ones(gateway: GatewayProcess) -> None:
    plain = post(gateway, "/chat/completions/", {"model": "chat", "messages": MESSAGES})
    assert plain.status_code == 200 and plain.json()["object"] == "chat.completion"
    wrong = httpx.put(f"{gateway.url}/chat/v1/embeddings", headers=AUTH)
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
    options = httpx.options(f"{gateway.base_url}/embeddings")  # what Litestar answered before: the methods
    assert options.status_code == 204 and options.headers["allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": GATEWAY_KEY}])
def test_missing_or_wrong_gateway_key_is_401(gateway: GatewayProcess, headers: dict[str, str]) -> None:
    for response in [post(gateway, "/chat/completions", {"model": "chat", "messages": MESSAGES}, headers=headers),
                     httpx.get(f"{gateway.base_url}/models", headers=headers)]:
        assert response.status_code == 401
        assert error_of(response)["type"] == "authentication_error"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/providers"), ("GET", "/v1/providers/openai"), ("GET", "/v1/providers/openai/models"),
    ("POST", "/v1/providers/openai/credentials/validate"), ("POST", "/v1/providers/openai/models/credentials/validate"),
    ("GET", "/v1/profile"), ("POST", "/v1/tokens/count"), ("GET", "/up/v1/models"), ("POST", "/up/v1/chat/completions"),
    ("GET", "/workspaces/current/model-providers"), ("GET", "/workspaces/current/models/model-types/llm"),
])
def test_every_route_but_icons_needs_the_key(gateway: GatewayProcess, method: str, path: str) -> None:
    response = httpx.request(method, f"{gateway.url}{path}", json={}, timeout=10)
    assert response.status_code == 401 and error_of(response)["code"] == "missing_api_key"
    icon = httpx.get(f"{gateway.url}/v1/providers/openai/icon/small", timeout=10)
    assert icon.status_code == 200


def test_gateway_key_in_x_api_key_header(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/models", headers={"x-api-key": GATEWAY_KEY}).status_code == 200


def test_sdk_with_wrong_key(gateway: GatewayProcess) -> None:
    with openai.OpenAI(base_url=gateway.base_url, api_key="nope", max_retries=0) as sdk, \
            pytest.raises(openai.AuthenticationError):
        sdk.models.list()


@pytest.mark.parametrize(("model", "status", "cls", "type_", "code"), [
    # Upstream codes are kept; statuses and types are the gateway's (an upstream 500 is a 502 here).
    ("up/fault-status-400", 400, openai.BadRequestError, "invalid_request_error", "empty_array"),
    # the gateway's account, not the caller's: 503, the upstream's code kept when it gives one
    ("up/fault-status-402", 503, openai.InternalServerError, "service_unavailable", "provider_account_blocked"),
    ("up/fault-status-403", 503, openai.InternalServerError, "service_unavailable",
     "unsupported_country_region_territory"),
    ("up/fault-status-404", 404, openai.NotFoundError, "invalid_request_error", "model_not_found"),
    ("up/fault-status-429", 429, openai.RateLimitError, "rate_limit_error", "rate_limit_exceeded"),
    ("up/fault-status-500", 502, openai.InternalServerError, "upstream_error", "upstream_error"),
    ("up/fault-status-503", 503, openai.InternalServerError, "service_unavailable", "service_unavailable"),
    ("badkey/gpt-4o-mini", 401, openai.AuthenticationError, "authentication_error", "provider_authentication_failed"),
    ("down/gpt-4o-mini", 502, openai.InternalServerError, "upstream_error", "upstream_connection_error"),
    ("up/fault-stall-5", 504, openai.InternalServerError, "timeout_error", "upstream_timeout"),
    ("up/fault-garbage", 502, openai.InternalServerError, "upstream_error", "upstream_invalid_response"),
    ("up/fault-cut-2", 502, openai.InternalServerError, "upstream_error", "upstream_error"),
    ("unconfigured/gpt-4o-mini", 503, openai.InternalServerError, "service_unavailable", "provider_not_configured"),
])
def test_upstream_failures_map_to_the_matching_class(client: openai.OpenAI, model: str, status: int,
                                                     cls: type[openai.APIStatusError], type_: str, code: str) -> None:
    with pytest.raises(cls) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    error = caught.value
    assert error.status_code == status
    assert isinstance(error.body, dict) and set(error.body) == {"message", "type", "param", "code"}
    assert (error.body["type"], error.code) == (type_, code)
    for secret in SECRETS:
        assert secret not in error.message


def test_upstream_400_keeps_param_and_429_keeps_retry_after(gateway: GatewayProcess) -> None:
    bad = post(gateway, "/chat/completions", {"model": "up/fault-status-400", "messages": MESSAGES})
    assert error_of(bad)["param"] == "messages"
    limited = post(gateway, "/chat/completions", {"model": "up/fault-status-429", "messages": MESSAGES})
    assert limited.headers["retry-after"] == "1"


def test_upstream_401_blames_the_gateway_credentials_without_echoing_them(gateway: GatewayProcess) -> None:
    response = post(gateway, "/chat/completions", {"model": "badkey/x", "messages": MESSAGES})
    message = error_of(response)["message"]
    assert "badkey" in message and "WRONG_KEY" in message  # names the variable, not its value
    assert "sk-wro" not in message  # the upstream's masked echo of the key is dropped too


def test_not_configured_names_the_variable(gateway: GatewayProcess) -> None:
    response = post(gateway, "/embeddings", {"model": "unconfigured/text-embedding-3-small", "input": "x"})
    assert response.status_code == 503 and "UNSET_TEST_OPENAI_KEY" in error_of(response)["message"]


def test_unknown_route_and_wrong_method(gateway: GatewayProcess) -> None:
    missing = httpx.get(f"{gateway.url}/v2/nothing", headers=AUTH)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = httpx.get(f"{gateway.base_url}/chat/completions", headers=AUTH)
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"


def test_no_secret_in_the_log(gateway: GatewayProcess, client: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="badkey/x", messages=[{"role": "user", "content": "x"}])
    log = gateway.log()
    assert "provider instance" in log  # the log does report upstream failures
    for secret in SECRETS:
        assert secret not in log
