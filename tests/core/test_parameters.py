"""Parameter rules: templates resolve once, requests are checked, renamed and filled as documented."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import InvalidRequestError
from core.parameters import TEMPLATES, apply_rules, pin_params, resolve_rule
from core.registry import Registry
from core.schema import ModelType, ParameterRule, ParameterType

RULES = [resolve_rule(r) for r in [
    ParameterRule(name="temperature", use_template="temperature"),
    ParameterRule(name="max_completion_tokens", use_template="max_tokens", max=100),
    ParameterRule(name="response_format", use_template="response_format"),
    ParameterRule(name="stop", use_template="stop"),
    ParameterRule(name="effort", type=ParameterType.STRING, options=["low", "high"], required=True, default="low"),
    ParameterRule(name="top_k", type=ParameterType.INT, required=True),
    ParameterRule(name="logprobs", type=ParameterType.BOOLEAN),
    ParameterRule(name="modalities", type=ParameterType.TAG, options=["text", "audio"]),
]]


def test_templates_fill_what_the_rule_leaves_out() -> None:
    rule = RULES[1]
    assert (rule.name, rule.type, rule.min, rule.max) == ("max_completion_tokens", ParameterType.INT, 1, 100)
    assert rule.label == TEMPLATES["max_tokens"].label
    assert RULES[0].max == 2 and RULES[0].default == 1.0


def test_catalogue_rules_are_resolved_at_load() -> None:
    o3 = Registry.discover()["openai"].predefined(ModelType.LLM, "o3")
    assert o3 is not None
    assert all(rule.type is not None for rule in o3.parameter_rules)


def test_valid_request_is_returned_as_is_when_nothing_changes() -> None:
    raw = {"temperature": 0.5, "stop": ["\n"], "effort": "high", "top_k": 3, "unknown": {"x": 1}}
    assert apply_rules(RULES, raw) is raw


def test_template_name_is_renamed_and_required_defaults_filled() -> None:
    raw: dict[str, Any] = {"max_tokens": 50, "top_k": 2, "response_format": {"type": "json_schema"}}
    checked = apply_rules(RULES, raw)
    assert checked == {"max_completion_tokens": 50, "top_k": 2, "effort": "low",
                       "response_format": {"type": "json_schema"}}
    assert raw == {"max_tokens": 50, "top_k": 2, "response_format": {"type": "json_schema"}}  # untouched


def test_a_max_tokens_rule_takes_the_newer_name_too() -> None:
    rules = [resolve_rule(ParameterRule(name="max_tokens", use_template="max_tokens", max=100))]
    assert apply_rules(rules, {"max_completion_tokens": 50}) == {"max_tokens": 50}
    with pytest.raises(InvalidRequestError, match="must be at most 100") as caught:
        apply_rules(rules, {"max_completion_tokens": 500})
    assert caught.value.param == "max_tokens"
    with pytest.raises(InvalidRequestError, match="Send either 'max_tokens' or 'max_completion_tokens'"):
        apply_rules(rules, {"max_tokens": 5, "max_completion_tokens": 6})


@pytest.mark.parametrize(("raw", "param", "message"), [
    ({"temperature": 2.5}, "temperature", "must be at most 2, got 2.5"),
    ({"temperature": -1}, "temperature", "must be at least 0, got -1"),
    ({"temperature": "hot"}, "temperature", "expected a number, got string"),
    ({"temperature": True}, "temperature", "expected a number, got boolean"),
    ({"max_tokens": 101}, "max_completion_tokens", "must be at most 100"),
    ({"max_completion_tokens": 1.5}, "max_completion_tokens", "expected an integer"),
    ({"response_format": {"type": "yaml"}}, "response_format", "must be one of text, json_object, json_schema"),
    ({"stop": [1]}, "stop", "expected a string or a list of strings"),
    ({"effort": "max"}, "effort", "must be one of low, high, got 'max'"),
    ({"logprobs": "yes"}, "logprobs", "expected a boolean"),
    ({"modalities": ["text", "video"]}, "modalities", "must be one of text, audio, got 'video'"),
    ({"top_k": None}, "top_k", "Missing required parameter"),
    ({"max_tokens": 5, "max_completion_tokens": 6}, "max_tokens", "Send either 'max_completion_tokens' or"),
    ({"max_tokens": -10**400}, "max_completion_tokens", "must be at least 1, got -1000000000000000000..."),
])
def test_bad_values_are_400_naming_the_parameter(raw: dict[str, Any], param: str, message: str) -> None:
    request = {"top_k": 1, **raw}
    with pytest.raises(InvalidRequestError) as caught:
        apply_rules(RULES, request)
    assert caught.value.param == param and message in caught.value.message


GOOGLE = {"thinking_config": {"thinking_budget": 512}, "cached_content": "c1"}


@pytest.mark.parametrize(("params", "client", "sent"), [
    # params that set the thinking replace the client's thinking controls of every name
    ({"reasoning_effort": "low"}, {"thinking": {"type": "enabled", "budget_tokens": 5000}},
     {"reasoning_effort": "low"}),
    ({"reasoning_effort": "low"}, {"enable_thinking": True, "thinking_budget": 9, "think": True},
     {"reasoning_effort": "low"}),
    ({"reasoning_effort": "none"}, {"google": GOOGLE, "extra_body": {"google": GOOGLE}},
     {"reasoning_effort": "none", "google": {"cached_content": "c1"},
      "extra_body": {"google": {"cached_content": "c1"}}}),
    ({"thinking": {"type": "disabled"}}, {"reasoning_effort": "high"}, {"thinking": {"type": "disabled"}}),
    ({"google": GOOGLE}, {"reasoning_effort": "high"}, {"google": GOOGLE}),
    ({"extra_body": {"google": GOOGLE}}, {"google": GOOGLE, "reasoning": {"effort": "high"}},  # Google's REST shape
     {"google": {"cached_content": "c1"}, "extra_body": {"google": GOOGLE}}),
    # a control's fields stay together: DashScope's enable_thinking goes with the params' thinking_budget
    ({"thinking_budget": 1024}, {"enable_thinking": True, "reasoning_effort": "high"},
     {"enable_thinking": True, "thinking_budget": 1024}),
    # other params leave the client's thinking as it is
    ({"temperature": 0.2}, {"reasoning_effort": "high", "temperature": 1},
     {"reasoning_effort": "high", "temperature": 0.2}),
])
def test_deployment_params_that_set_the_thinking_replace_the_clients_thinking(
        params: dict[str, Any], client: dict[str, Any], sent: dict[str, Any]) -> None:
    raw = {"model": "m", **client}
    before = repr(raw)
    assert pin_params(raw, params) == {"model": "m", **sent}
    assert repr(raw) == before  # the client's request, for the next deployment, is left as it came
