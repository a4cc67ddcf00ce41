"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from litestar import get

from core.errors import ModelNotFoundError, ModelRuntimeError
from core.openai.models import Model, ModelList
from core.schema import ModelType

from ._reply import Req, runtime

__all__ = ["list_models", "retrieve_model"]


@get("/models")
async def list_models(request: Req) -> ModelList:
    """Route aliases and the enabled models of configured instances (``<instance>/<model>``)."""
    return ModelList(data=[Model(id=name, owned_by=owner) for name, owner in runtime(request).router.listed()])


@get("/models/{model_id:path}")
async def retrieve_model(request: Req, model_id: str) -> Model:
    """One model, if this gateway serves it under that name."""
    name = model_id.lstrip("/")
    router = runtime(request).router
    for model_type in ModelType:
        try:
            deployment = router.resolve(name, model_type)[0]
        except ModelRuntimeError:  # not of this type, or not here at all: try the next type
            continue
        owner = "model-runtime" if name in router.routes else deployment.instance.plugin.id
        return Model(id=name, owned_by=owner)
    raise ModelNotFoundError(f"The model '{name}' does not exist on this gateway. GET /v1/models lists the "
                             "models you can use.", param="model")
