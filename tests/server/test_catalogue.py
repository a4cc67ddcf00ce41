"""The provider catalogue over HTTP: providers, icons, models, credential validation, the masked profile."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from core.registry import Registry
from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY, URL_PASSWORD, WRONG_UPSTREAM_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
CANARIES = (UPSTREAM_KEY, WRONG_UPSTREAM_KEY, GATEWAY_KEY, URL_PASSWORD)


def get(gateway: GatewayProcess, path: str, **params: str) -> httpx.Response:
    response = httpx.get(f"{gateway.base_url}{path}", params=params, headers=AUTH, timeout=10)
    assert not any(secret in response.text for secret in CANARIES), f"a secret leaked from {path}"
    return response


def validate(gateway: GatewayProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{gateway.base_url}/providers/{path}", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    assert not any(secret in response.text for secret in CANARIES)
    result: dict[str, Any] = response.json()
    return result


def test_every_provider_is_listed_with_its_forms_and_instances(gateway: GatewayProcess) -> None:
    data = get(gateway, "/providers").json()["data"]
    assert [p["provider"] for p in data] == list(Registry.discover().plugins)
    openai_entry = next(p for p in data if p["provider"] == "openai")
    assert openai_entry["label"]["en_US"] == "OpenAI" and "llm" in openai_entry["supported_model_types"]
    forms = openai_entry["provider_credential_schema"]["credential_form_schemas"]
    assert [f["variable"] for f in forms] == ["api_key", "organization", "base_url"]
    assert forms[0]["type"] == "secret-input"
    instances = {i["name"]: i for i in openai_entry["instances"]}
    assert instances["openai"]["status"] == "ready"
    assert instances["openai"]["credentials"]["api_key"] == UPSTREAM_KEY[:3] + "..." + UPSTREAM_KEY[-4:]
    assert instances["unconfigured"]["status"] == "not_configured"
    assert "UNSET_TEST_OPENAI_KEY" in instances["unconfigured"]["reason"]


def test_provider_detail_has_models_with_resolved_rules(gateway: GatewayProcess) -> None:
    detail = get(gateway, "/providers/openai").json()
    o3 = next(m for m in detail["models"]["llm"] if m["model"] == "o3")
    rule = next(r for r in o3["parameter_rules"] if r["name"] == "max_completion_tokens")
    assert (rule["use_template"], rule["type"], rule["max"]) == ("max_tokens", "int", 100000)
    assert o3["pricing"] == {"input": "2.00", "output": "8.00", "unit": "0.000001", "currency": "USD"}
    assert o3["fetch_from"] == "predefined-model"
    compatible = get(gateway, "/providers/openai_compatible").json()
    assert compatible["configurate_methods"] == ["customizable-model", "fetch-from-remote"]
    missing = get(gateway, "/providers/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "provider_not_found"


def test_icons_need_no_key_and_have_their_content_type(gateway: GatewayProcess) -> None:
    small = httpx.get(f"{gateway.base_url}/providers/openai/icon/small", timeout=10)
    assert small.status_code == 200 and small.headers["content-type"] == "image/svg+xml"
    assert small.content.lstrip().startswith(b"<svg")
    large = httpx.get(f"{gateway.base_url}/providers/openai/icon/large", params={"lang": "zh_Hans"}, timeout=10)
    assert large.status_code == 200 and large.content != small.content  # no zh_Hans icon: the English one
    for path in ["/providers/openai/icon/huge", "/providers/nope/icon/small"]:
        response = httpx.get(f"{gateway.base_url}{path}", timeout=10)
        assert response.status_code == 404 and set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_models_of_a_provider_and_of_an_instance(gateway: GatewayProcess) -> None:
    embeddings = get(gateway, "/providers/openai/models", model_type="embeddings").json()["data"]
    assert {m["model"] for m in embeddings} == {"text-embedding-3-small", "text-embedding-3-large",
                                                "text-embedding-ada-002"}
    enabled = get(gateway, "/providers/openai/models", instance="openai").json()["data"]
    assert [m["model"] for m in enabled] == ["gpt-4o-mini", "o3", "text-embedding-3-small"]
    custom = get(gateway, "/providers/openai_compatible/models", instance="custom", model_type="llm").json()
    assert custom["data"][0]["model"] == "gpt-4o-mini" and custom["data"][0]["fetch_from"] == "customizable-model"
    remote = [m for m in custom["data"] if m["fetch_from"] == "fetch-from-remote"]
    assert "gpt-4o" in {m["model"] for m in remote}  # listed live by the fake's GET /v1/models
    down = get(gateway, "/providers/openai_compatible/models", instance="down").json()
    assert down["data"] == [] and "could not connect" in down["remote_error"]
    assert get(gateway, "/providers/openai/models", model_type="poetry").status_code == 400
    assert get(gateway, "/providers/openai/models", instance="up").status_code == 404  # not an openai instance


def test_validate_provider_credentials(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    good = {"api_key": UPSTREAM_KEY, "base_url": upstream.base_url}
    assert validate(gateway, "openai/credentials/validate", {"credentials": good}) == {"valid": True}
    bad = validate(gateway, "openai/credentials/validate", {"credentials": {**good, "api_key": WRONG_UPSTREAM_KEY}})
    assert bad["valid"] is False and "rejected" in bad["error"]
    assert validate(gateway, "openai/credentials/validate", {"credentials": {"base_url": upstream.base_url}}) == {
        "valid": False, "error": "api_key: required by provider 'openai'"}
    unknown = validate(gateway, "openai/credentials/validate", {"credentials": {**good, "region": "eu"}})
    assert unknown["valid"] is False and unknown["error"].startswith("region: unknown credential")
    assert validate(gateway, "openai/credentials/validate", {"instance": "openai"}) == {"valid": True}
    assert validate(gateway, "openai/credentials/validate", {"instance": "unconfigured"}) == {
        "valid": False, "error": "api_key: required and empty"}
    down = validate(gateway, "openai_compatible/credentials/validate", {"instance": "down"})
    assert down["valid"] is False and "could not connect to provider instance 'down'" in down["error"]


def test_validate_customizable_model_credentials_with_show_on(gateway: GatewayProcess) -> None:
    def check(model: str, model_type: str, credentials: dict[str, Any]) -> dict[str, Any]:
        return validate(gateway, "openai_compatible/models/credentials/validate",
                        {"instance": "up", "model": model, "model_type": model_type, "credentials": credentials})

    assert check("gpt-4o-mini", "llm", {"context_size": "8000"}) == {"valid": True}
    # max_tokens_to_sample and vision_support are shown (and checked) only for llm models.
    assert check("gpt-4o-mini", "llm", {"max_tokens_to_sample": ""}) == {
        "valid": False, "error": "max_tokens_to_sample: required and empty"}
    assert check("gpt-4o-mini", "llm", {"vision_support": "maybe"}) == {
        "valid": False, "error": "vision_support: must be one of: support, no_support"}
    assert check("text-embedding-3-small", "text-embedding", {"max_tokens_to_sample": "", "vision_support": "maybe"}
                 ) == {"valid": True}
    assert check("gpt-4o-mini", "llm", {"context_size": "lots"}) == {
        "valid": False, "error": "context_size: must be a whole number above zero, not 'lots'"}
    missing = check("gpt-unknown", "llm", {})
    assert missing["valid"] is False and "does not exist" in missing["error"]
    assert check("gpt-4o-mini", "rerank", {})["valid"] is False


def test_profile_is_masked(gateway: GatewayProcess) -> None:
    profile = get(gateway, "/profile").json()
    assert profile["server"]["api_keys"] == [GATEWAY_KEY[:3] + "..." + GATEWAY_KEY[-4:]]
    up = next(p for p in profile["providers"] if p["name"] == "up")
    assert up["credentials"]["api_key"].startswith("sk-...") and up["credentials"]["base_url"].startswith("http")
    assert profile["routes"][0]["model"] == "chat"
    down = next(p for p in profile["providers"] if p["name"] == "down")
    assert down["credentials"]["base_url"].startswith("http://****@127.0.0.1:")


def test_model_details_and_cost(gateway: GatewayProcess, client: openai.OpenAI) -> None:
    detail = get(gateway, "/models/openai/gpt-4o-mini").json()
    assert detail["model_type"] == "llm" and detail["context_size"] == 128000 and "vision" in detail["features"]
    assert detail["pricing"] == {"input": "0.15", "output": "0.60", "unit": "0.000001", "currency": "USD"}
    custom = get(gateway, "/models/custom/gpt-4o-mini").json()
    assert custom["context_size"] == 64000 and custom["features"] == ["vision"] and "pricing" not in custom
    raw = client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "price me"}])
    usage = raw.parse().usage
    assert usage is not None
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1_000_000
    assert float(raw.headers["x-model-runtime-cost"]) == pytest.approx(expected, rel=1e-9)
    assert raw.headers["x-model-runtime-cost-currency"] == "USD"
    passthrough = client.chat.completions.with_raw_response.create(
        model="up/gpt-4o-mini", messages=[{"role": "user", "content": "no price"}])
    assert "x-model-runtime-cost" not in passthrough.headers


def test_customizable_model_rules_come_from_its_credentials(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="custom/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                       max_tokens=200)
    assert caught.value.param == "max_tokens" and "at most 100" in caught.value.message


def test_stored_secrets_never_go_to_a_server_the_caller_names(gateway: GatewayProcess, upstream: FakeOpenAI) -> None:
    upstream.clear()
    for path, body in [
        ("openai_compatible/credentials/validate", {"instance": "up", "credentials": {"base_url": "http://x/v1"}}),
        ("openai_compatible/models/credentials/validate",
         {"instance": "up", "model": "m", "model_type": "llm", "provider_credentials": {"base_url": "http://x/v1"}}),
    ]:
        response = httpx.post(f"{gateway.base_url}/providers/{path}", json=body, headers=AUTH, timeout=10)
        assert response.status_code == 400 and response.json()["error"]["param"] == "credentials"
        assert "base_url" in response.json()["error"]["message"]
    # Replacing only the secret is fine: the caller's own key goes to the stored server.
    replaced = validate(gateway, "openai_compatible/credentials/validate",
                        {"instance": "up", "credentials": {"api_key": WRONG_UPSTREAM_KEY}})
    assert replaced["valid"] is False and "rejected" in replaced["error"]
    assert [r.headers["authorization"] for r in upstream.requests] == [f"Bearer {WRONG_UPSTREAM_KEY}"]


@pytest.mark.parametrize(("credentials", "error"), [
    ({"base_url": "http://[::1"}, "base_url: must be an http:// or https:// URL"),
    ({"base_url": "ftp://host/v1"}, "base_url: must be an http:// or https:// URL"),
    ({"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-ключ"}, "api_key: must be printable ASCII"),
])
def test_unusable_credential_values_are_invalid_not_errors(gateway: GatewayProcess, credentials: dict[str, str],
                                                          error: str) -> None:
    result = validate(gateway, "openai_compatible/credentials/validate", {"credentials": credentials})
    assert result["valid"] is False and result["error"].startswith(error)
