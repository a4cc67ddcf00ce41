"""``GET /v1/models`` objects; retrieving one model adds what the catalogue knows of it."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Model", "ModelList", "ModelPricing"]


class ModelPricing(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Price per ``unit`` tokens, as decimal strings (``unit: "0.000001"``: per million)."""

    input: str
    output: str | None = None
    unit: str
    currency: str


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One model as OpenAI lists it, plus its type; the other optional fields come only with
    ``GET /v1/models/{id}``."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    model_type: str | None = None
    context_size: int | None = None
    features: list[str] | None = None
    pricing: ModelPricing | None = None
    voices: list[str] | None = None
    """A speech model's voices, from its ``model_properties.voices``."""
    deprecated: bool | None = None


class ModelList(msgspec.Struct, kw_only=True):
    """The list response."""

    object: Literal["list"] = "list"
    data: list[Model]
