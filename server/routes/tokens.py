"""``POST /v1/tokens/count``: tokens counted locally and offline, without calling any upstream.

Counting runs in a worker thread: loading an encoding takes ~0.4 s on first use and long inputs take
milliseconds, neither of which may stall the event loop that serves every other request.
"""

from __future__ import annotations

import asyncio

from litestar import post

from core import errors
from core.api import TokenCountRequest, TokenCountResponse
from core.router import Deployment
from core.schema import ModelType
from core.tokens import count_chat, count_text

from ..auth import MODEL_STATE, check_model
from ..decode import decode_body
from ._reply import Req, runtime

__all__ = ["count_tokens"]


@post("/tokens/count", status_code=200)
async def count_tokens(request: Req) -> TokenCountResponse:
    """Count for the upstream model a name resolves to here; a name not served here is counted as given."""
    body, _ = decode_body(await request.body(), TokenCountRequest)
    check_model(request.scope, None, body.model)  # a key limited to some models learns nothing of the others
    request.scope["state"].pop(MODEL_STATE, None)  # nor does a name made up here become a metrics label
    if body.messages is not None and body.input is None:
        deployment = _resolve(request, body.model, [ModelType.LLM])
        count = await asyncio.to_thread(count_chat, deployment.target.name if deployment else body.model,
                                        body.messages, body.tools)
    elif body.input is not None and body.messages is None:
        deployment = _resolve(request, body.model, [ModelType.TEXT_EMBEDDING, ModelType.LLM])
        count = await asyncio.to_thread(count_text, deployment.target.name if deployment else body.model, body.input)
    else:
        raise errors.InvalidRequestError("Give either 'messages' (a chat request) or 'input' (texts).",
                                         param="messages", code="invalid_value")
    schema = deployment.target.schema if deployment else None
    return TokenCountResponse(model=body.model, tokens=count.tokens, encoding=count.encoding,
                              estimated=count.estimated, context_size=schema.context_size if schema else None)


def _resolve(request: Req, name: str, types: list[ModelType]) -> Deployment | None:
    router = runtime(request).router
    for model_type in types:
        try:
            return router.resolve(name, model_type)[0]
        except errors.ModelRuntimeError:
            continue
    return None
