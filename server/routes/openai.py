"""``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``: decode, resolve, call, reply.

The same handlers answer under ``/{provider}/v1/...`` (Chatchat's routes), where the path names the provider
instance (or Chatchat group) and the body's ``model`` one of its models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from litestar import Response, post
from litestar.response import Stream

from core.errors import InvalidRequestError
from core.model_types import EventStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.router import Deployment
from core.runtime import Runtime
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Req, answer, runtime, with_rules

S = TypeVar("S", bound=msgspec.Struct)

__all__ = ["chat_completions", "completions", "embeddings", "seed_chat_completions", "seed_completions",
           "seed_embeddings"]



async def _chat(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), ChatCompletionRequest)
    if not body.messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages",
                                  code="empty_array")
    return await _serve(request, provider, body.model, ModelType.LLM, body, raw,
                        lambda upstream, target, *request_body: upstream.llm().chat(target, *request_body))


async def _complete(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), CompletionRequest)
    return await _serve(request, provider, body.model, ModelType.LLM, body, raw,
                        lambda upstream, target, *request_body: upstream.llm().complete(target, *request_body))


async def _embed(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), EmbeddingRequest)
    if body.input == "" or body.input == []:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    return await _serve(request, provider, body.model, ModelType.TEXT_EMBEDDING, body, raw,
                        lambda upstream, target, *request_body: upstream.text_embedding().embed(target, *request_body))


async def _serve(request: Req, provider: str | None, model: str, model_type: ModelType, body: S, raw: RawBody,
                 invoke: Callable[[Provider, ModelTarget, S, RawBody], Awaitable[JSONReply | EventStream]],
                 ) -> Response[bytes] | Stream:
    """Resolve ``model``, then call each deployment tried with the request after its overrides and rules."""
    rt = runtime(request)

    async def one(deployment: Deployment) -> JSONReply | EventStream:
        checked, checked_raw = with_rules(deployment.target, body, raw)
        return await invoke(rt.provider(deployment), deployment.target, checked, checked_raw)

    context = rt.router.context_fallbacks(model) if model_type is ModelType.LLM else None
    return await answer(request, rt, _resolve(rt, provider, model, model_type), one, context)


def _resolve(rt: Runtime, provider: str | None, model: str, model_type: ModelType) -> list[Deployment]:
    """Anywhere (``/v1``), or among the models of ``provider`` (``/{provider}/v1``)."""
    if provider is None:
        return rt.router.resolve(model, model_type)
    return rt.router.resolve_in(provider, model, model_type)


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
