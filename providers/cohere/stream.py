"""Cohere's streamed ``/v2/chat`` events as OpenAI chat completion chunks, translated as they arrive.

``message-start`` opens the stream with the assistant role; ``content-delta`` thinking (a reasoning model's
first content item) becomes ``reasoning_content``; ``tool-plan-delta`` and ``content-delta`` text become
``content`` (the plan first, as in a whole reply); ``tool-call-start`` opens a tool call (id and name) whose
``tool-call-delta`` pieces become its ``arguments``, indexed per call as OpenAI does; ``message-end`` carries the
finish reason and usage, and ends the stream (after a usage chunk when the client asked for
``stream_options.include_usage``). Citations and the ``-start``/``-end`` events of content are dropped. A
``message-end`` that reports an error, garbage, or a stream that ends before ``message-end`` ends with an OpenAI
error event, never with a silent truncation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.chat import ChoiceDelta, FunctionCallDelta, ToolCallDelta
from core.translate import TranslatedStream

from .chat import FAILED, FINISH_REASONS, CallWire, CohereUsage, Function, openai_usage

__all__ = ["CohereStream", "Unfinished"]

Unfinished = Callable[[str, str | None], errors.ModelRuntimeError]
"""The gateway error for an answer Cohere could not finish: ``(finish reason, error text)``."""


class _Content(msgspec.Struct):
    text: str | None = None
    thinking: str | None = None


class _Message(msgspec.Struct):
    content: _Content | list[Any] | None = None  # message-start sends empty lists
    tool_plan: str | None = None
    tool_calls: CallWire | list[Any] | None = None


class _Delta(msgspec.Struct):
    message: _Message | None = None
    finish_reason: str | None = None
    error: str | None = None
    usage: CohereUsage | None = None


class _Event(msgspec.Struct):
    type: str
    id: str | None = None
    index: int | None = None
    delta: _Delta | None = None


_decode_event = msgspec.json.Decoder(_Event).decode


class CohereStream(TranslatedStream):
    """An :class:`~core.model_types.EventStream` over an open ``/v2/chat`` stream."""

    def __init__(self, response: ResponseBody, context: ProviderContext, model: str, include_usage: bool,
                 unfinished: Unfinished) -> None:
        super().__init__(response, context, model)
        self._include_usage, self._unfinished = include_usage, unfinished
        self._usage: CohereUsage | None = None
        self._calls: dict[int, int] = {}  # Cohere's tool call index -> OpenAI's

    def translate(self, data: bytes) -> bytes:
        if self.ended:  # what follows message-end in the same read (a `[DONE]`, say) is not an answer
            return b""
        try:
            item = _decode_event(data)
        except msgspec.MsgspecError:
            raise self.broken("sent an event that is not a Cohere chat event", "upstream_invalid_event") from None
        delta = item.delta or _Delta()
        message = delta.message or _Message()
        match item.type:
            case "message-start":
                self.id = item.id or self.id
                return self.chunk(ChoiceDelta(role="assistant", content=""))
            case "content-delta" if isinstance(message.content, _Content) and message.content.thinking:
                return self.chunk(ChoiceDelta(reasoning_content=message.content.thinking))
            case "content-delta" if isinstance(message.content, _Content) and message.content.text:
                return self.chunk(ChoiceDelta(content=message.content.text))
            case "tool-plan-delta" if message.tool_plan:
                return self.chunk(ChoiceDelta(content=message.tool_plan))
            case "tool-call-start" if isinstance(message.tool_calls, CallWire) and item.index is not None:
                return self._call_start(item.index, message.tool_calls)
            case "tool-call-delta" if isinstance(message.tool_calls, CallWire) and item.index in self._calls:
                function = message.tool_calls.function
                if function is None or not function.arguments:
                    return b""
                call = ToolCallDelta(index=self._calls[item.index],
                                     function=FunctionCallDelta(arguments=function.arguments))
                return self.chunk(ChoiceDelta(tool_calls=[call]))
            case "message-end":
                if delta.finish_reason in FAILED or delta.error:
                    raise self._unfinished(delta.finish_reason or "ERROR", delta.error)
                self._usage, self.ended = delta.usage, True
                return self.chunk(ChoiceDelta(), FINISH_REASONS.get(delta.finish_reason or "COMPLETE", "stop"))
        return b""  # content-start/-end, tool-call-end, citations, debug and newer events

    def _call_start(self, index: int, started: CallWire) -> bytes:
        function = started.function or Function()
        ours = self._calls[index] = len(self._calls)
        call = ToolCallDelta(index=ours, id=started.id, type="function",
                             function=FunctionCallDelta(name=function.name, arguments=function.arguments or ""))
        return self.chunk(ChoiceDelta(tool_calls=[call]))

    def finish(self) -> bytes:
        if not self.ended:
            raise self.broken("ended the stream before it was complete")
        return self.last(openai_usage(self._usage) if self._usage is not None else None, self._include_usage)
