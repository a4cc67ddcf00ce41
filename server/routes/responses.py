"""``/v1/responses``: OpenAI's Responses API, answered by any chat model (:mod:`core.responses`).

The request becomes a chat completion request, which takes the chat route's path whole: the route's deployments,
overrides and parameter rules, retries and fallbacks, keys, limits and metering. Its answer is then written as a
response object or as Responses events.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import msgspec

from core.errors import ModelRuntimeError
from core.openai.chat import ChatCompletionRequest
from core.openai.responses import ResponseRequest
from core.responses import Echo, ResponseEvents, chat_request, response_body
from core.schema import ModelType

from ..decode import decode_body, describe_validation_error
from ._reply import STREAM_STATE, USAGE_STATE, Exchange, Reply, serve

__all__ = ["respond"]


async def respond(exchange: Exchange, provider: str | None, content: bytes) -> Reply:
    """A model response, streamed or not; the gateway keeps none."""
    request, body = decode_body(content, ResponseRequest)
    raw, names = chat_request(request, body)
    try:
        try:
            chat = msgspec.convert(raw, ChatCompletionRequest)
        except msgspec.ValidationError as exc:  # a field passed on as the client sent it (a tool's parameters)
            raise describe_validation_error(exc) from None
        answer = await serve(exchange, provider, request.model, ModelType.LLM, chat, raw,
                             lambda upstream, target, *request_body: upstream.llm().chat(target, *request_body))
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
