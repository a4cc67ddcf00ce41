"""``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath

from core.errors import ModelNotFoundError
from core.openai.models import Model, ModelList, ModelPricing

from ..auth import KEY_STATE, check_model
from ._reply import Req, runtime

__all__ = ["list_models", "retrieve_model"]


@get("/models")
async def list_models(request: Req) -> ModelList:
    """Route aliases and the enabled models of configured instances (``<instance>/<model>``), those the caller's
    key may use, each with its type (``llm``, ``text-embedding``, ...) so that a client can pick by kind."""
    rt = runtime(request)
    key = request.scope["state"].get(KEY_STATE)
    return ModelList(data=[Model(id=name, object="model", created=rt.created, owned_by=owner,
                                 model_type=str(model_type) if model_type else None)
                           for name, owner, model_type in rt.router.listed()
                           if key is None or key.may_use_model(name)])


@get("/models/{model_id:path}")
async def retrieve_model(request: Req, model_id: FromPath[str]) -> Model:
    """One model, if a call to it could be served here, with its type, context size, features and price."""
    name = model_id.lstrip("/")
    check_model(request.scope, None, name)
    rt = runtime(request)
    found = rt.router.find(name)
    if found is None:
        raise ModelNotFoundError(f"The model '{name}' does not exist on this gateway. GET /v1/models lists the "
                                 "models you can use.", param="model")
    model = Model(id=name, object="model", created=rt.created, owned_by=found.owner,
                  model_type=str(found.model_type) if found.model_type else None)
    schema = found.schema
    if schema is not None:
        model.context_size = schema.context_size
        model.features = schema.features or None
        model.deprecated = schema.deprecated or None
        model.voices = schema.voices or None
        if schema.pricing is not None:
            price = schema.pricing
            output = str(price.output) if price.output is not None else None
            model.pricing = ModelPricing(input=str(price.input), output=output, unit=str(price.unit),
                                         currency=price.currency)
    return model
