"""Ollama's streamed ``/api/chat`` (newline-delimited JSON) as OpenAI chat completion chunks, as lines arrive.

Each line is a whole chat response holding the next piece of the message: the first opens the stream with the
assistant role, ``thinking`` becomes ``reasoning_content`` deltas and ``content`` content deltas, tool calls (Ollama
sends each whole) become tool call deltas with their complete arguments, indexed as OpenAI does, and the ``done:
true`` line carries the finish reason and the usage (sent in a last chunk when the client asked for
``stream_options.include_usage``). An ``{"error": ...}`` line, a line that is not JSON, or a stream that ends before
``done`` ends the stream with an OpenAI error event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec

from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.chat import ChoiceDelta, FunctionCallDelta, ToolCallDelta
from core.translate import TranslatedStream, json_lines

from .messages import ChatResponse, arguments_json, finish_reason, openai_usage, tool_call_id

__all__ = ["OllamaStream"]

_decode = msgspec.json.Decoder(ChatResponse).decode


class OllamaStream(TranslatedStream):
    """An :class:`~core.model_types.EventStream` over an open ``/api/chat`` stream."""

    def __init__(self, response: ResponseBody, context: ProviderContext, model: str, include_usage: bool,
                 redact: Callable[[str], str]) -> None:
        super().__init__(response, context, model)
        self._include_usage, self._redact = include_usage, redact
        self._started = False
        self._calls = 0
        self._last: ChatResponse | None = None

    def frames(self) -> AsyncIterator[list[bytes]]:
        return json_lines(self.response.aiter_bytes())

    def translate(self, data: bytes) -> bytes:
        try:
            line = _decode(data)
        except msgspec.MsgspecError:
            raise self.broken("sent a line that is not an Ollama chat response", "upstream_invalid_event") from None
        if line.error is not None:
            raise self.broken(f"failed mid-stream: {self._redact(line.error)}", "upstream_error")
        if line.model:
            self.model = line.model
        out = []
        if not self._started:
            self._started = True
            out.append(self.chunk(ChoiceDelta(role="assistant", content="")))
        message = line.message
        if message is not None and message.thinking:
            out.append(self.chunk(ChoiceDelta(reasoning_content=message.thinking)))
        if message is not None and message.content:
            out.append(self.chunk(ChoiceDelta(content=message.content)))
        for call in message.tool_calls or [] if message else []:
            function = FunctionCallDelta(name=call.function.name, arguments=arguments_json(call))
            delta = ToolCallDelta(index=self._calls, id=tool_call_id(call), type="function", function=function)
            self._calls += 1
            out.append(self.chunk(ChoiceDelta(tool_calls=[delta])))
        if line.done:
            self.ended, self._last = True, line
            out.append(self.chunk(ChoiceDelta(), finish_reason(line.done_reason, self._calls > 0)))
        return b"".join(out)

    def finish(self) -> bytes:
        if self._last is None:
            raise self.broken("ended the stream before it was complete")
        return self.last(openai_usage(self._last), self._include_usage)
