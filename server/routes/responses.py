"""``/v1/responses``: OpenAI's Responses API, answered by any chat model (:mod:`core.responses`).

The request becomes a chat completion request, which takes the chat route's path whole: the route's deployments,
overrides and parameter rules, retries and fallbacks, keys, limits and metering. Its answer is then written as a
response object or as Responses events.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import msgspec
from litestar import delete, get, post
from litestar.params import FromPath

from core.errors import ModelRuntimeError, NotFoundError
from core.openai.chat import ChatCompletionRequest
from core.openai.responses import ResponseRequest
from core.responses import Echo, ResponseEvents, chat_request, response_body
from core.schema import ModelType

from ..decode import decode_body, describe_validation_error
from ._reply import STREAM_STATE, USAGE_STATE, Exchange, Reply, serve
from .openai import chat_call

__all__ = ["STORED", "respond"]


async def respond(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """A model response, streamed or not; the gateway keeps none."""
    request, body = decode_body(content, ResponseRequest)
    raw, names = chat_request(request, body)
    try:
        try:
            chat = msgspec.convert(raw, ChatCompletionRequest)
        except msgspec.ValidationError as exc:  # a field passed on as the client sent it (a tool's parameters)
            raise describe_validation_error(exc) from None
        answer = await serve(exchange, provider, request.model, ModelType.LLM, chat, raw, chat_call)
    except ModelRuntimeError as exc:  # named in the chat request: the client's request names it otherwise
        named = names.of(exc.param)
        if exc.param and named and named != exc.param:
            exc.message = exc.message.replace(f"'{exc.param}'", f"'{named}'")
            exc.param = named
        raise
    echo, state = Echo(request), exchange.scope["state"]
    if answer.stream is None:
        return Reply("application/json", answer.headers, response_body(answer.body, echo, state.get(USAGE_STATE)))
    stream = state.get(STREAM_STATE)  # its usage is what the provider read (asked for or not)
    events = aiter(ResponseEvents(answer.stream, echo, lambda: getattr(stream, "usage", None)))
    return Reply(answer.media_type, answer.headers, stream=events, close=_closing(events, answer.close))


def _closing(events: AsyncGenerator[bytes, None],
             close: Callable[[], Awaitable[None]] | None) -> Callable[[], Awaitable[None]]:
    async def both() -> None:
        try:
            await events.aclose()
        finally:
            if close is not None:
                await close()

    return both


@get("/responses/{response_id:str}")
async def retrieve(response_id: FromPath[str]) -> None:
    """A stored response: the gateway keeps none."""
    raise _not_kept(response_id)


@delete("/responses/{response_id:str}", status_code=200)
async def remove(response_id: FromPath[str]) -> None:
    """Deleting a stored response: the gateway keeps none."""
    raise _not_kept(response_id)


@get("/responses/{response_id:str}/input_items")
async def input_items(response_id: FromPath[str]) -> None:
    """A stored response's input: the gateway keeps none."""
    raise _not_kept(response_id)


@post("/responses/{response_id:str}/cancel", status_code=200)
async def cancel(response_id: FromPath[str]) -> None:
    """Cancelling a background response: the gateway runs none (``background`` is a 400)."""
    raise _not_kept(response_id)


@post("/responses/input_tokens", status_code=200)
async def input_tokens() -> None:
    """Counting a response's input tokens: not served."""
    raise NotFoundError("Counting a response's input tokens is not served here; POST /v1/tokens/count counts a "
                        "chat request's.", code="not_found")


@post("/responses/compact", status_code=200)
async def compact() -> None:
    """Compacting a conversation into encrypted items only OpenAI can read: not served."""
    raise NotFoundError("Compacting a conversation is not served here: its items would be OpenAI's to read.",
                        code="not_found")


STORED = [retrieve, remove, input_items, cancel, input_tokens, compact]
"""The routes of stored responses, each a 404 that says why."""


def _not_kept(response_id: str) -> NotFoundError:
    return NotFoundError(f"No response with id '{response_id}': the gateway keeps no responses (they come back with "
                         "store false); send the whole conversation as 'input' instead.", code="not_found")
