"""Chatchat's routes, kept for its clients: ``/{provider}/v1/models`` and the two ``/workspaces/current`` lists.

The chat, completion and embedding routes under ``/{provider}/v1`` are the OpenAI handlers themselves (see
:mod:`server.routes.openai`). Responses keep Chatchat's shapes; errors are OpenAI error bodies, not ``{"detail"}``.
"""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromPath

from core import errors
from core.catalogue import workspace_models, workspace_providers
from core.openai.models import Model, ModelList

from ._reply import Req, model_type_param, runtime

__all__ = ["model_providers", "models_by_type", "seed_models", "seed_retrieve_model"]


@get("/models", name="seed_models")
async def seed_models(request: Req, provider: FromPath[str]) -> ModelList:
    """The models of ``provider`` by the names its chat and embedding routes take."""
    rt = runtime(request)
    if provider not in rt.router.groups:
        raise errors.NotFoundError(f"provider '{provider}' is not configured on this gateway", param="provider",
                                   code="provider_not_found")
    return ModelList(data=[Model(id=name, object="model", created=rt.created, owned_by=owner)
                           for name, owner in rt.router.listed_in(provider)])


@get("/models/{model_id:path}", name="seed_retrieve_model")
async def seed_retrieve_model(request: Req, provider: FromPath[str], model_id: FromPath[str]) -> Model:
    """One model of ``provider``, by the name its routes take."""
    name = model_id.lstrip("/")
    rt = runtime(request)
    owner = dict(rt.router.listed_in(provider)).get(name) if provider in rt.router.groups else None
    if owner is None:
        raise errors.ModelNotFoundError(f"The model '{name}' does not exist at provider '{provider}'. "
                                        f"GET /{provider}/v1/models lists its models.", param="model")
    return Model(id=name, object="model", created=rt.created, owned_by=owner)


@get("/model-providers")
async def model_providers(request: Req) -> dict[str, Any]:
    """Every provider key of the profile with its schema and configuration status."""
    return {"object": "list", "data": workspace_providers(runtime(request).loaded)}


@get("/models/model-types/{model_type:str}")
async def models_by_type(request: Req, model_type: FromPath[str]) -> dict[str, Any]:
    """Providers with their models of ``model_type`` (Chatchat's aliases such as ``text-generation`` accepted)."""
    return {"object": "list", "data": workspace_models(runtime(request).loaded, model_type_param(model_type))}
