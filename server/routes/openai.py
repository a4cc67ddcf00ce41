"""``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``: decode, resolve, call, reply.

Served by :mod:`server.calls` in front of Litestar, also under ``/{provider}/v1/...`` (Chatchat's routes), where
the path names the provider instance (or Chatchat group) and the body's ``model`` one of its models.
"""

from __future__ import annotations

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Exchange, Reply, serve

__all__ = ["chat", "complete", "embed"]


async def chat(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Chat, streamed or not."""
    body, raw = decode_body(content, ChatCompletionRequest)
    if not body.messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages",
                                  code="empty_array")
    return await serve(exchange, provider, body.model, ModelType.LLM, body, raw,
                       lambda upstream, target, *request_body: upstream.llm().chat(target, *request_body))


async def complete(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Legacy text completions, streamed or not."""
    body, raw = decode_body(content, CompletionRequest)
    return await serve(exchange, provider, body.model, ModelType.LLM, body, raw,
                       lambda upstream, target, *request_body: upstream.llm().complete(target, *request_body))


async def embed(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """One vector per input, in order."""
    body, raw = decode_body(content, EmbeddingRequest)
    if body.input == "" or body.input == []:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    return await serve(exchange, provider, body.model, ModelType.TEXT_EMBEDDING, body, raw,
                       lambda upstream, target, *request_body: upstream.text_embedding().embed(target, *request_body))
