"""DashScope's text generation stream (``X-DashScope-SSE: enable``) as OpenAI chat completion chunks.

Each ``event:result`` carries a whole generation response holding only what is new (``incremental_output``, which
the request always asks for): ``reasoning_content`` becomes ``reasoning_content`` deltas, content ``content``
deltas, tool call fragments tool call deltas (a call's first fragment has its id and name, later ones only more
arguments), and a ``finish_reason`` other than ``"null"`` ends the choice. Usage comes with every event; the last
is sent in a final chunk when the client asked for ``stream_options.include_usage``. An ``event:error``
mid-stream is DashScope's error object: an output stopped by content moderation (``DataInspectionFailed``) ends
the answer with ``finish_reason: content_filter``, anything else becomes the error event. A stream that ends
before a finish reason is an interrupted one.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.chat import ChoiceDelta, FunctionCallDelta, ToolCallDelta
from core.openai.usage import Usage
from core.translate import TranslatedStream

from .errors import DashScopeError, from_code
from .messages import DashScopeUsage, Generation, ToolCallPart, finish_reason, openai_usage

__all__ = ["TongyiStream"]


class _Event(Generation):
    """A stream event: a generation, or (``event:error``) DashScope's error object."""

    code: str = ""
    message: str = ""


_decode = msgspec.json.Decoder(_Event).decode


class TongyiStream(TranslatedStream):
    """An :class:`~core.model_types.EventStream` over an open generation stream."""

    def __init__(self, response: ResponseBody, context: ProviderContext, model: str, include_usage: bool,
                 redact: Callable[[str], str]) -> None:
        super().__init__(response, context, model)
        self._include_usage, self._redact = include_usage, redact
        self._started = self._finished = False
        self._usage: DashScopeUsage | None = None

    def translate(self, data: bytes) -> bytes:
        try:
            generation = _decode(data)
        except msgspec.MsgspecError:
            raise self.broken("sent an event that is not a generation", "upstream_invalid_event") from None
        out = [] if self._started else [self.chunk(ChoiceDelta(role="assistant", content=""))]
        self._started = True
        if generation.code:
            return b"".join(out) + self._failed(DashScopeError(generation.code, generation.message))
        if generation.usage is not None:
            self._usage = generation.usage
        for choice in generation.output.choices[:1] if generation.output is not None else []:
            message = choice.message
            if message is not None and message.reasoning_content:
                out.append(self.chunk(ChoiceDelta(reasoning_content=message.reasoning_content)))
            if message is not None and message.tool_calls:
                out.append(self.chunk(ChoiceDelta(tool_calls=[_delta(c) for c in message.tool_calls])))
            if message is not None and message.content:
                out.append(self.chunk(ChoiceDelta(content=message.content)))
            reason = finish_reason(choice.finish_reason)
            if reason is not None:
                out.append(self._end(reason))
        return b"".join(out)

    def _failed(self, detail: DashScopeError) -> bytes:
        error = from_code(self.context.name, detail, self._redact)
        if error is not None and error.code == "content_filter":
            return self._end("content_filter")
        raise error or errors.UpstreamError(f"provider instance '{self.context.name}' failed while generating "
                                            f"the answer: {self._redact(detail.message) or detail.code}")

    def _end(self, reason: str) -> bytes:
        self._finished = self.ended = True
        return self.chunk(ChoiceDelta(), reason)

    def usage_so_far(self) -> Usage | None:
        return openai_usage(self._usage) if self._usage is not None else None

    def finish(self) -> bytes:
        if not self._finished:
            raise self.broken("ended the stream before it was complete")
        return self.last(self.usage_so_far(), self._include_usage)


def _delta(call: ToolCallPart) -> ToolCallDelta:
    function = call.function
    arguments = function.arguments if function is not None else None
    if call.id:
        name = function.name if function is not None else None
        return ToolCallDelta(index=call.index, id=call.id, type="function",
                             function=FunctionCallDelta(name=name, arguments=arguments or ""))
    return ToolCallDelta(index=call.index, function=FunctionCallDelta(arguments=arguments or ""))
