"""Anthropic's streamed Messages events as OpenAI chat completion chunks, translated as they arrive.

``message_start`` opens the stream with the assistant role; ``text_delta`` becomes ``content``; a ``tool_use`` block
opens a tool call (id and name) whose ``input_json_delta`` fragments become its ``arguments``, indexed per tool call
as OpenAI does; ``message_delta`` carries the finish reason; ``message_stop`` ends the stream (after a usage chunk
when the client asked for ``stream_options.include_usage``). ``thinking_delta`` becomes ``reasoning_content``; a
thinking block's ``signature_delta`` (sent just before the block ends) a ``thinking_blocks`` delta holding the whole
signed block, and a ``redacted_thinking`` block one holding it, so that a client can send them back as a
non-streamed answer gives them; each entry has an ``index`` (its place among the thinking blocks), as list entries
in OpenAI's deltas do: the openai SDK's stream helper merges list entries by it. ``ping`` is dropped. An ``error``
event, garbage, or a stream that ends before ``message_stop`` ends with an OpenAI error event, never with a silent
truncation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.chat import ChoiceDelta, FunctionCallDelta, ToolCallDelta
from core.openai.usage import Usage
from core.translate import TranslatedStream

from .messages import FINISH_REASONS, AnthropicUsage, openai_usage, thinking_block

__all__ = ["AnthropicStream"]


class _Started(msgspec.Struct):
    id: str
    model: str
    usage: AnthropicUsage | None = None


class _BlockStart(msgspec.Struct):
    type: str
    id: str | None = None
    name: str | None = None
    thinking: str | None = None
    data: str | None = None


class _Delta(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None


class _Failure(msgspec.Struct):
    type: str = "api_error"
    message: str = ""


class _Event(msgspec.Struct):
    type: str
    index: int | None = None
    message: _Started | None = None
    content_block: _BlockStart | None = None
    delta: _Delta | None = None
    usage: AnthropicUsage | None = None
    error: _Failure | None = None


_decode_event = msgspec.json.Decoder(_Event).decode
ErrorFor = Callable[[str, str], errors.ModelRuntimeError]
"""The gateway error for an upstream error event's ``(type, message)``."""


class AnthropicStream(TranslatedStream):
    """An :class:`~core.model_types.EventStream` over an open Messages API stream."""

    def __init__(self, response: ResponseBody, context: ProviderContext, include_usage: bool,
                 error_for: ErrorFor) -> None:
        super().__init__(response, context, "")
        self._include_usage, self._error_for = include_usage, error_for
        self._usage = AnthropicUsage()
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._thoughts: dict[int, list[str]] = {}  # thinking block index -> its text so far
        self._signed = 0  # thinking blocks sent whole so far
        self._finish: str | None = None
        self._done = b""

    def translate(self, data: bytes) -> bytes:
        try:
            item = _decode_event(data)
        except msgspec.MsgspecError:
            raise self.broken("sent an event that is not a Messages API event", "upstream_invalid_event") from None
        match item.type:
            case "message_start" if item.message is not None:
                self.id, self.model = item.message.id, item.message.model
                if item.message.usage is not None:
                    self._usage = item.message.usage
                return self.chunk(ChoiceDelta(role="assistant", content=""))
            case "content_block_start" if item.content_block is not None and item.index is not None:
                block = item.content_block
                if block.type == "thinking":
                    self._thoughts[item.index] = [block.thinking] if block.thinking else []
                    return self.chunk(ChoiceDelta(reasoning_content=block.thinking)) if block.thinking else b""
                if block.type == "redacted_thinking":
                    return self._whole(thinking_block(block.type, None, None, block.data))
                if block.type != "tool_use":
                    return b""
                index = self._tools[item.index] = len(self._tools)
                call = ToolCallDelta(index=index, id=block.id, type="function",
                                     function=FunctionCallDelta(name=block.name, arguments=""))
                return self.chunk(ChoiceDelta(tool_calls=[call]))
            case "content_block_delta" if item.delta is not None:
                return self._content(item.index, item.delta)
            case "message_delta":
                if item.usage is not None and item.usage.output_tokens is not None:
                    self._usage.output_tokens = item.usage.output_tokens
                reason = item.delta.stop_reason if item.delta is not None else None
                self._finish = FINISH_REASONS.get(reason or "end_turn", "stop")
                return self.chunk(ChoiceDelta(), self._finish)
            case "message_stop":
                self.ended = True
                return b"" if self._finish is not None else self.chunk(ChoiceDelta(), "stop")
            case "error" if item.error is not None:
                raise self._error_for(item.error.type, item.error.message)
        return b""  # ping, content_block_stop and newer events

    def usage_so_far(self) -> Usage | None:
        return openai_usage(self._usage)

    def finish(self) -> bytes:
        if not self.ended:
            raise self.broken("ended the stream before it was complete")
        return self.last(self.usage_so_far(), self._include_usage)

    def _content(self, index: int | None, delta: _Delta) -> bytes:
        if delta.type == "text_delta" and delta.text:
            return self.chunk(ChoiceDelta(content=delta.text))
        if delta.type == "input_json_delta" and delta.partial_json and index in self._tools:
            call = ToolCallDelta(index=self._tools[index], function=FunctionCallDelta(arguments=delta.partial_json))
            return self.chunk(ChoiceDelta(tool_calls=[call]))
        if delta.type == "thinking_delta" and delta.thinking and index is not None:
            self._thoughts.setdefault(index, []).append(delta.thinking)
            return self.chunk(ChoiceDelta(reasoning_content=delta.thinking))
        if delta.type == "signature_delta" and delta.signature and index is not None:
            return self._whole(thinking_block("thinking", "".join(self._thoughts.pop(index, [])), delta.signature,
                                              None))
        return b""

    def _whole(self, block: dict[str, Any] | None) -> bytes:
        """A ``thinking_blocks`` delta holding one whole block."""
        if block is None:
            return b""
        self._signed += 1
        return self.chunk(ChoiceDelta(thinking_blocks=[{"index": self._signed - 1, **block}]))
