"""core.translate's reading of ``reasoning_effort``: the budgets, and who may be sent one."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequestError
from core.model_types import ModelTarget
from core.schema import ConfigurateMethod, ModelSchema, ModelType, ParameterRule
from core.translate import EFFORT_BUDGETS, effort_budget, refuse_effort_without_thinking

THINKS = ModelSchema(model="thinker", model_type=ModelType.LLM,
                     parameter_rules=[ParameterRule(name="reasoning_effort")])
PLAIN = ModelSchema(model="plain", model_type=ModelType.LLM, parameter_rules=[ParameterRule(name="max_tokens")])
DECLARED = ModelSchema(model="new-model", model_type=ModelType.LLM, fetch_from=ConfigurateMethod.CUSTOMIZABLE_MODEL)


def target(schema: ModelSchema | None) -> ModelTarget:
    return ModelTarget(name="m", model_type=ModelType.LLM, schema=schema)


@pytest.mark.parametrize(("effort", "budget"), [("none", 0), ("minimal", 1024), ("low", 1024), ("medium", 8192),
                                                ("high", 24576)])
def test_levels_are_budgets(effort: str, budget: int) -> None:
    assert effort_budget(effort, "Gemini") == budget == EFFORT_BUDGETS[effort]


@pytest.mark.parametrize("effort", ["xhigh", "HIGH", 3, None, ["low"]])
def test_other_levels_are_a_400_naming_it(effort: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        effort_budget(effort, "Qwen")
    assert caught.value.param == "reasoning_effort" and "Qwen models" in caught.value.message


def test_only_a_catalogue_model_that_does_not_think_refuses_an_effort() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        refuse_effort_without_thinking(target(PLAIN), {"reasoning_effort": "low"})
    assert (caught.value.param, caught.value.code) == ("reasoning_effort", "unsupported_parameter")
    assert "'plain' does not think" in caught.value.message
    refuse_effort_without_thinking(target(PLAIN), {})  # no effort, nothing to refuse
    refuse_effort_without_thinking(target(THINKS), {"reasoning_effort": "low"})
    refuse_effort_without_thinking(target(DECLARED), {"reasoning_effort": "low"})  # the profile's own: may think
    refuse_effort_without_thinking(target(None), {"reasoning_effort": "low"})
