"""Model parameter rules: the standard templates, and checking a request's parameters against a model's rules.

A model YAML lists ``parameter_rules``; a rule with ``use_template: temperature`` takes everything it does not say
itself from the template of that name. Rules are resolved once, when the catalogue loads.

On every call the rules of the model are applied to the client's JSON object, as Dify's runtime does:

* a parameter the client sent is checked: its type, ``min``/``max`` and ``options`` (400 naming it otherwise);
* a rule named differently from its template (``max_completion_tokens`` using ``max_tokens``) also accepts the
  template's name and renames it, so clients can send ``max_tokens`` to models that want the other name; and a
  ``max_tokens`` rule accepts OpenAI's newer ``max_completion_tokens`` (as ``/v1/responses`` sends it) the same way;
* a *required* rule the client left out gets its ``default`` (or is a 400 when it has none); optional defaults
  are what the console pre-fills, and are not forced on API callers;
* parameters the model does not declare pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .errors import InvalidRequestError
from .schema import I18nText, ParameterRule, ParameterType

__all__ = ["TEMPLATES", "THINKING_CONTROLS", "apply_rules", "pin_params", "resolve_rule"]


def _template(name: str, type_: ParameterType, en: str, zh: str, help_en: str, help_zh: str,
              **limits: Any) -> ParameterRule:
    return ParameterRule(name=name, type=type_, label=I18nText(en_US=en, zh_Hans=zh),
                         help=I18nText(en_US=help_en, zh_Hans=help_zh), **limits)


TEMPLATES: dict[str, ParameterRule] = {t.name: t for t in [
    _template("temperature", ParameterType.FLOAT, "Temperature", "温度",
              "Randomness of the answer: 0 is nearly deterministic, higher values vary more.",
              "回答的随机程度：0 几乎确定，数值越高变化越大。", default=1.0, min=0.0, max=2.0, precision=2),
    _template("top_p", ParameterType.FLOAT, "Top P", "Top P",
              "Sample only from the most likely tokens whose probabilities add up to this value.",
              "仅从累计概率达到该值的最可能 Token 中采样。", default=1.0, min=0.0, max=1.0, precision=2),
    _template("top_k", ParameterType.INT, "Top K", "Top K",
              "Sample only from this many most likely tokens.", "仅从概率最高的这么多个 Token 中采样。", min=1),
    _template("presence_penalty", ParameterType.FLOAT, "Presence penalty", "存在惩罚",
              "Positive values make the model more likely to move to new topics.",
              "正值使模型更倾向于谈论新话题。", default=0.0, min=-2.0, max=2.0, precision=2),
    _template("frequency_penalty", ParameterType.FLOAT, "Frequency penalty", "频率惩罚",
              "Positive values make the model less likely to repeat the same words.",
              "正值使模型更少重复相同的词语。", default=0.0, min=-2.0, max=2.0, precision=2),
    _template("max_tokens", ParameterType.INT, "Max tokens", "最大 Token 数",
              "Upper bound on the number of tokens generated.", "生成 Token 数的上限。", min=1),
    _template("response_format", ParameterType.STRING, "Response format", "回复格式",
              "text, json_object (JSON mode) or json_schema (structured output).",
              "text、json_object（JSON 模式）或 json_schema（结构化输出）。",
              options=["text", "json_object", "json_schema"]),
    _template("stop", ParameterType.TAG, "Stop sequences", "停止序列",
              "Generation stops before any of these strings.", "生成在遇到这些字符串之前停止。"),
]}


def resolve_rule(rule: ParameterRule) -> ParameterRule:
    """``rule`` completed from its template; raise ``KeyError`` for an unknown template."""
    if rule.use_template is None:
        return rule
    template = TEMPLATES[rule.use_template]
    # Structs omit defaults when converted, so the rule's own settings are exactly what it wrote.
    merged = {**msgspec.to_builtins(template), **msgspec.to_builtins(rule)}
    return msgspec.convert(merged, ParameterRule)


_NEWER_NAMES = {"max_tokens": "max_completion_tokens"}
"""OpenAI's newer names of parameters, which a model whose rules use the older one takes under that."""


def apply_rules(rules: Sequence[ParameterRule], raw: dict[str, Any]) -> dict[str, Any]:
    """The request object with required defaults filled and template names renamed; 400 on a bad value.

    ``raw`` is not modified: a changed request is a new dict, an unchanged one is ``raw`` itself.
    """
    out: dict[str, Any] | None = None
    for rule in rules:
        value = raw.get(rule.name)
        alias = rule.use_template if rule.use_template not in (None, rule.name) else _NEWER_NAMES.get(rule.name)
        if alias and raw.get(alias) is not None:
            if value is not None:
                raise InvalidRequestError(f"Send either '{rule.name}' or '{alias}', not both: this model takes "
                                          f"'{rule.name}'.", param=alias, code="invalid_value")
            out = out if out is not None else dict(raw)
            value = out.pop(alias)
            out[rule.name] = value
        if value is None:
            if rule.required:
                if rule.default is None:
                    raise InvalidRequestError(f"Missing required parameter: '{rule.name}'.", param=rule.name,
                                              code="missing_required_parameter")
                out = out if out is not None else dict(raw)
                out[rule.name] = rule.default
            continue
        problem = _problem(rule, value)
        if problem:
            raise InvalidRequestError(f"Invalid value for '{rule.name}': {problem}.", param=rule.name,
                                      code="invalid_value")
    return out if out is not None else raw


THINKING_CONTROLS = (("reasoning_effort",), ("reasoning",), ("thinking",), ("enable_thinking", "thinking_budget"),
                     ("think",))
"""The request fields that switch a model's thinking, each control's fields together: OpenAI's
``reasoning_effort``, OpenRouter's ``reasoning``, Anthropic's (and Cohere's, Zhipu's) ``thinking``, DashScope's
``enable_thinking`` with ``thinking_budget``, Ollama's ``think``. Gemini's is ``google.thinking_config``, at the top
level or under ``extra_body``."""


def pin_params(raw: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The client's request with a deployment's ``params`` over it (they replace what the client sent). Params
    that set the thinking replace the client's other thinking controls too: the translators refuse two of them
    together, and the client could not have avoided that 400."""
    pinned = {**raw, **params}
    chosen = [control for control in THINKING_CONTROLS if any(name in params for name in control)]
    top, nested = _google_thinking(params), _google_thinking(params.get("extra_body"))
    if not chosen and top is None and nested is None:
        return pinned
    for control in THINKING_CONTROLS:
        if control not in chosen:
            for name in control:
                pinned.pop(name, None)
    if top is None:  # the client's goes, also where it would shadow the params' own under extra_body
        pinned = _without_google_thinking(pinned)
        extra = pinned.get("extra_body")  # a raw JSON client's (the openai SDK sends extra_body's fields on top)
        if nested is None and isinstance(extra, dict):
            pinned["extra_body"] = _without_google_thinking(extra)
    return pinned


def _google_thinking(body: Any) -> Any:
    google = body.get("google") if isinstance(body, Mapping) else None
    return google.get("thinking_config") if isinstance(google, dict) else None


def _without_google_thinking(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` itself, or a copy without ``google.thinking_config`` (the client's objects stay as they are)."""
    if _google_thinking(body) is None:
        return body
    return {**body, "google": {k: v for k, v in body["google"].items() if k != "thinking_config"}}


def _problem(rule: ParameterRule, value: Any) -> str | None:
    match rule.type:
        case ParameterType.FLOAT | ParameterType.INT:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"expected a number, got {_json_type(value)}"
            if rule.type is ParameterType.INT and not (isinstance(value, int) or value.is_integer()):
                return f"expected an integer, got {value}"
            if rule.min is not None and value < rule.min:
                return f"must be at least {rule.min:g}, got {_number(value)}"
            if rule.max is not None and value > rule.max:
                return f"must be at most {rule.max:g}, got {_number(value)}"
            return None
        case ParameterType.BOOLEAN:
            return None if isinstance(value, bool) else f"expected a boolean, got {_json_type(value)}"
        case ParameterType.STRING:
            if isinstance(value, dict) and isinstance(value.get("type"), str):
                value = value["type"]  # OpenAI spells response_format as {"type": ...}; the rule lists the types
            if not isinstance(value, str):
                return f"expected a string, got {_json_type(value)}"
            return _option_problem(rule, [value])
        case ParameterType.TAG:
            values = [value] if isinstance(value, str) else value
            if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                return "expected a string or a list of strings"
            return _option_problem(rule, values)
        case _:  # TEXT: free text (a JSON schema, a prompt); anything JSON goes
            return None


def _option_problem(rule: ParameterRule, values: list[str]) -> str | None:
    wrong = next((v for v in values if rule.options and v not in rule.options), None)
    return None if wrong is None else f"must be one of {', '.join(rule.options)}, got '{wrong}'"


def _number(value: float) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else text[:20] + "..."  # an integer of 400 digits is not worth echoing


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null" if value is None else type(value).__name__)
