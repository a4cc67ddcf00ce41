"""``POST /v1/rerank``: documents scored against a query, best first, whichever provider ranks them.

Served by :mod:`server.calls`, also at ``/rerank`` and ``/v2/rerank``, where Jina's and Cohere's clients send it
when their base URL is the gateway's root.
"""

from __future__ import annotations

from core.errors import InvalidRequestError
from core.openai.rerank import RerankRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Exchange, Reply, serve

__all__ = ["rerank"]


async def rerank(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Rerank ``documents`` against ``query``."""
    body, raw = decode_body(content, RerankRequest)
    if not body.query:
        raise InvalidRequestError("'query' must not be empty.", param="query", code="empty_input")
    if not body.documents:
        raise InvalidRequestError("'documents' must contain at least one document.", param="documents",
                                  code="empty_array")
    return await serve(exchange, provider, body.model, ModelType.RERANK, body, raw,
                       lambda upstream, target, *request_body: upstream.rerank().rank(target, *request_body))
