"""``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``: decode, resolve, call, reply."""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from core.errors import InvalidRequestError
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.schema import ModelType

from ..decode import decode_body
from ._reply import Req, call, reply, runtime, with_rules

__all__ = ["chat_completions", "completions", "embeddings"]


@post("/chat/completions", status_code=200)
async def chat_completions(request: Req) -> Response[bytes] | Stream:
    """Chat, streamed or not."""
    body, raw = decode_body(await request.body(), ChatCompletionRequest)
    if not body.messages:
        raise InvalidRequestError("'messages' must contain at least one message.", param="messages",
                                  code="empty_array")
    rt = runtime(request)
    deployment = rt.router.resolve(body.model, ModelType.LLM)[0]
    target = deployment.target
    body, raw = with_rules(target, body, raw)
    return reply(await call(request, rt.provider(deployment).llm().chat(target, body, raw)), target)


@post("/completions", status_code=200)
async def completions(request: Req) -> Response[bytes] | Stream:
    """Legacy text completions, streamed or not."""
    body, raw = decode_body(await request.body(), CompletionRequest)
    rt = runtime(request)
    deployment = rt.router.resolve(body.model, ModelType.LLM)[0]
    target = deployment.target
    body, raw = with_rules(target, body, raw)
    return reply(await call(request, rt.provider(deployment).llm().complete(target, body, raw)), target)


@post("/embeddings", status_code=200)
async def embeddings(request: Req) -> Response[bytes] | Stream:
    """One vector per input, in order."""
    body, raw = decode_body(await request.body(), EmbeddingRequest)
    if body.input == "" or body.input == []:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    rt = runtime(request)
    deployment = rt.router.resolve(body.model, ModelType.TEXT_EMBEDDING)[0]
    target = deployment.target
    body, raw = with_rules(target, body, raw)
    return reply(await call(request, rt.provider(deployment).text_embedding().embed(target, body, raw)), target)
