"""What a call cost, from the model's ``pricing`` and the usage the upstream reported.

Prices are per ``unit`` tokens as Dify writes them: ``input: "0.15"``, ``unit: "0.000001"`` is 0.15 per million
input tokens. Decimal arithmetic, so a cost is exact and prints without exponent.
"""

from __future__ import annotations

from decimal import Decimal

from .openai.usage import Usage
from .schema import PriceConfig

__all__ = ["cost", "format_cost"]


def cost(pricing: PriceConfig, usage: Usage) -> Decimal:
    """Input tokens at the input price plus output tokens at the output price (none for embeddings)."""
    output = (pricing.output or Decimal(0)) * (usage.completion_tokens or 0)
    return (pricing.input * usage.prompt_tokens + output) * pricing.unit


def format_cost(value: Decimal) -> str:
    """``0.0000375`` rather than ``3.75E-5``; whole amounts without a trailing ``.0``."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"
