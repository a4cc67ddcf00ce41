"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from litestar import get

from core.errors import ModelNotFoundError
from core.openai.models import Model, ModelList

from ._reply import Req, runtime

__all__ = ["list_models", "retrieve_model"]


@get("/models")
async def list_models(request: Req) -> ModelList:
    """Route aliases and the enabled models of configured instances (``<instance>/<model>``)."""
    return ModelList(data=[Model(id=name, owned_by=owner) for name, owner in runtime(request).router.listed()])


@get("/models/{model_id:path}")
async def retrieve_model(request: Req, model_id: str) -> Model:
    """One model, if a call to it could be served here."""
    name = model_id.lstrip("/")
    owner = runtime(request).router.owner(name)
    if owner is None:
        raise ModelNotFoundError(f"The model '{name}' does not exist on this gateway. GET /v1/models lists the "
                                 "models you can use.", param="model")
    return Model(id=name, owned_by=owner)
