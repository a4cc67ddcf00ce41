"""``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``: decode, resolve, call, reply.

The same handlers answer under ``/{provider}/v1/...`` (Chatchat's routes), where the path names the provider
instance (or Chatchat group) and the body's ``model`` one of its models.
"""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Req, serve

__all__ = ["chat_completions", "completions", "embeddings", "seed_chat_completions", "seed_completions",
           "seed_embeddings"]



async def _chat(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), ChatCompletionRequest)
    if not body.messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages",
                                  code="empty_array")
    return await serve(request, provider, body.model, ModelType.LLM, body, raw,
                        lambda upstream, target, *request_body: upstream.llm().chat(target, *request_body))


async def _complete(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), CompletionRequest)
    return await serve(request, provider, body.model, ModelType.LLM, body, raw,
                        lambda upstream, target, *request_body: upstream.llm().complete(target, *request_body))


async def _embed(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), EmbeddingRequest)
    if body.input == "" or body.input == []:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    return await serve(request, provider, body.model, ModelType.TEXT_EMBEDDING, body, raw,
                        lambda upstream, target, *request_body: upstream.text_embedding().embed(target, *request_body))


@post("/chat/completions", status_code=200)
async def chat_completions(request: Req) -> Response[bytes] | Stream:
    """Chat, streamed or not."""
    return await _chat(request, None)


@post("/completions", status_code=200)
async def completions(request: Req) -> Response[bytes] | Stream:
    """Legacy text completions, streamed or not."""
    return await _complete(request, None)


@post("/embeddings", status_code=200)
async def embeddings(request: Req) -> Response[bytes] | Stream:
    """One vector per input, in order."""
    return await _embed(request, None)


@post("/chat/completions", status_code=200, name="seed_chat_completions")
async def seed_chat_completions(request: Req, provider: str) -> Response[bytes] | Stream:
    """Chat with a model of ``provider``."""
    return await _chat(request, provider)


@post("/completions", status_code=200, name="seed_completions")
async def seed_completions(request: Req, provider: str) -> Response[bytes] | Stream:
    """Legacy completions with a model of ``provider``."""
    return await _complete(request, provider)


@post("/embeddings", status_code=200, name="seed_embeddings")
async def seed_embeddings(request: Req, provider: str) -> Response[bytes] | Stream:
    """Embeddings with a model of ``provider``."""
    return await _embed(request, provider)
