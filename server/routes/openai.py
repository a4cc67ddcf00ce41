"""``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``: decode, resolve, call, reply.

Served by :mod:`server.calls` in front of Litestar, also under ``/{provider}/v1/...`` (Chatchat's routes), where
the path names the provider instance (or Chatchat group) and the body's ``model`` one of its models.
"""

from __future__ import annotations

from collections.abc import Awaitable

from core.errors import InvalidRequestError
from core.model_types import EventStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Exchange, Reply, serve

__all__ = ["chat", "chat_call", "complete", "embed"]


async def chat(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Chat, streamed or not."""
    body, raw = decode_body(content, ChatCompletionRequest)
    if not body.messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages",
                                  code="empty_array")
    _check_generation(body)
    return await serve(exchange, provider, body.model, ModelType.LLM, body, raw, chat_call)


def chat_call(upstream: Provider, target: ModelTarget, request: ChatCompletionRequest,
              raw: RawBody) -> Awaitable[JSONReply | EventStream]:
    """A chat call to one deployment (the chat route's, and the Responses route's once translated)."""
    return upstream.llm().chat(target, request, raw)


async def complete(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """Legacy text completions, streamed or not."""
    body, raw = decode_body(content, CompletionRequest)
    _check_generation(body)
    return await serve(exchange, provider, body.model, ModelType.LLM, body, raw,
                       lambda upstream, target, *request_body: upstream.llm().complete(target, *request_body))


async def embed(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """One vector per input, in order."""
    body, raw = decode_body(content, EmbeddingRequest)
    if body.input == "" or body.input == []:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    return await serve(exchange, provider, body.model, ModelType.TEXT_EMBEDDING, body, raw,
                       lambda upstream, target, *request_body: upstream.text_embedding().embed(target, *request_body))


def _check_generation(body: ChatCompletionRequest | CompletionRequest) -> None:
    """What OpenAI's API refuses whichever model answers (so that every provider refuses it alike)."""
    if body.stream_options is not None and not body.stream:
        raise InvalidRequestError("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                  param="stream_options", code="invalid_value")
    if body.n is not None and body.n < 1:
        raise InvalidRequestError(f"Invalid 'n': integer below minimum value. Expected a value >= 1, but got "
                                  f"{body.n} instead.", param="n", code="integer_below_min_value")
    if body.n is not None and body.n > 128:
        raise InvalidRequestError(f"Invalid 'n': integer above maximum value. Expected a value <= 128, but got "
                                  f"{body.n} instead.", param="n", code="integer_above_max_value")
