"""How catalogue values read on screen: model types, prices, parameter ranges and costs, in few characters."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import msgspec

from core.openai.models import ModelPricing
from core.openai.usage import Usage
from core.pricing import cost, format_cost
from core.schema import ParameterRule, PriceConfig

__all__ = ["call_cost", "price", "rule_range", "short_types"]

SHORT_TYPES = {"llm": "llm", "text-embedding": "emb", "rerank": "rank", "speech2text": "stt", "tts": "tts",
               "moderation": "mod"}
UNITS = {Decimal(1): "", Decimal("0.001"): " /1K", Decimal("0.000001"): " /1M"}


def short_types(model_types: Sequence[str]) -> str:
    """``llm emb stt`` for a provider's supported model types."""
    return " ".join(SHORT_TYPES.get(t, t) for t in model_types)


def price(pricing: ModelPricing | None) -> str:
    """``0.15/0.60 USD /1M`` (input/output per unit tokens); empty when the model has no price."""
    if pricing is None:
        return ""
    amounts = pricing.input if pricing.output is None else f"{pricing.input}/{pricing.output}"
    try:
        unit = UNITS.get(Decimal(pricing.unit), f" x{pricing.unit}")
    except InvalidOperation:
        unit = f" x{pricing.unit}"
    return f"{amounts} {pricing.currency}{unit}"


def rule_range(rule: ParameterRule) -> str:
    """``0..2``, ``>= 1``, ``<= 16384``, or the options; empty when anything goes."""
    if rule.options:
        return "|".join(rule.options)
    low, high = (f"{v:g}" if v is not None else None for v in (rule.min, rule.max))
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}" if high is not None else ""


def call_cost(pricing: ModelPricing | None, usage: Usage | None) -> str | None:
    """``0.0000375 USD`` for ``usage`` at ``pricing``; None when either is unknown."""
    if pricing is None or usage is None:
        return None
    config = msgspec.convert(msgspec.to_builtins(pricing), PriceConfig)
    return f"{format_cost(cost(config, usage))} {pricing.currency}"
