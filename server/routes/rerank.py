"""``POST /v1/rerank``: documents scored against a query, best first, whichever provider ranks them.

Also answered at ``/rerank`` and ``/v2/rerank``, where Jina's and Cohere's clients send it when their base URL is
the gateway's root.
"""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from core.errors import InvalidRequestError
from core.openai.rerank import RerankRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Req, serve

__all__ = ["rerank", "root_rerank", "seed_rerank"]


async def _rerank(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), RerankRequest)
    if not body.query:
        raise InvalidRequestError("'query' must not be empty.", param="query", code="empty_input")
    if not body.documents:
        raise InvalidRequestError("'documents' must contain at least one document.", param="documents",
                                  code="empty_array")
    return await serve(request, provider, body.model, ModelType.RERANK, body, raw,
                       lambda upstream, target, *request_body: upstream.rerank().rank(target, *request_body))


@post("/rerank", status_code=200)
async def rerank(request: Req) -> Response[bytes] | Stream:
    """Rerank ``documents`` against ``query``."""
    return await _rerank(request, None)


@post(["/rerank", "/v2/rerank"], status_code=200, name="root_rerank")
async def root_rerank(request: Req) -> Response[bytes] | Stream:
    """Rerank, at the paths Cohere's and Jina's clients use."""
    return await _rerank(request, None)


@post("/rerank", status_code=200, name="seed_rerank")
async def seed_rerank(request: Req, provider: str) -> Response[bytes] | Stream:
    """Rerank with a model of ``provider``."""
    return await _rerank(request, provider)
