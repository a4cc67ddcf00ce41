"""``GET /v1/models`` objects."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Model", "ModelList"]


class Model(msgspec.Struct, kw_only=True):
    """One model as OpenAI lists it."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(msgspec.Struct, kw_only=True):
    """The list response."""

    object: Literal["list"] = "list"
    data: list[Model]
