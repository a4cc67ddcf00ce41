"""Credential forms: required, defaults, unknown keys, options, show_on, max_length, empty values."""

from __future__ import annotations

import msgspec

from core.credentials import check_credentials
from core.schema import CredentialFormSchema

FORMS = msgspec.convert([
    {"variable": "api_key", "label": {"en_US": "Key"}, "type": "secret-input", "max_length": 8},
    {"variable": "mode", "label": {"en_US": "Mode"}, "type": "select", "default": "chat", "options": [
        {"label": {"en_US": "Chat"}, "value": "chat"},
        {"label": {"en_US": "Completion"}, "value": "completion", "show_on": [{"variable": "__model_type",
                                                                               "value": "llm"}]}]},
    {"variable": "stream", "label": {"en_US": "Stream"}, "type": "switch", "required": False},
    {"variable": "region", "label": {"en_US": "Region"}, "type": "text-input",
     "show_on": [{"variable": "mode", "value": "completion"}]},
], list[CredentialFormSchema])


def problems(given: dict[str, object], model_type: str | None = None) -> list[tuple[str, str]]:
    check = check_credentials(FORMS, given, owner="p", model_type=model_type)
    return [(p.variable, p.message) for p in check.problems]


def test_defaults_and_normalisation() -> None:
    check = check_credentials(FORMS, {"api_key": 1234}, owner="p")
    assert check.values == {"api_key": "1234", "mode": "chat"} and not check.problems


def test_mistakes() -> None:
    assert problems({}) == [("api_key", "required by provider 'p'")]
    assert problems({"api_key": "k", "apikey": "x"}) == [
        ("apikey", "unknown credential (known: api_key, mode, region, stream)")]
    assert problems({"api_key": "123456789"}) == [("api_key", "is longer than 8 characters")]
    assert problems({"api_key": "k", "stream": "yes"}) == [("stream", "must be true or false")]
    assert problems({"api_key": ["k"]}) == [("api_key", "must be a string, not list")]


def test_options_follow_show_on() -> None:
    assert problems({"api_key": "k", "mode": "completion"}) == [
        ("mode", "must be one of: chat"), ("region", "required by provider 'p'")]
    # For an LLM the completion option shows, and then the region field shows and is required.
    assert problems({"api_key": "k", "mode": "completion"}, model_type="llm") == [
        ("region", "required by provider 'p'")]


def test_empty_required_is_not_a_problem_but_reported() -> None:
    check = check_credentials(FORMS, {"api_key": ""}, owner="p")
    assert check.problems == [] and check.empty_required == ["api_key"]


def test_messages_never_contain_values() -> None:
    check = check_credentials(FORMS, {"api_key": "super-secret-value", "mode": "secret-mode"}, owner="p")
    assert all("secret" not in p.message for p in check.problems)
