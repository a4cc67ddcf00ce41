"""A streamed chat answer as the Responses events (:class:`ResponseEvents`), written as its chunks arrive."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import msgspec

from ..openai.errors import ErrorDetail
from ..openai.responses import (
    ContentPartAdded,
    ContentPartDone,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    FunctionCallItem,
    OutputItem,
    OutputItemAdded,
    OutputItemDone,
    OutputMessage,
    OutputText,
    ReasoningItem,
    ReasoningText,
    ReasoningTextDelta,
    ReasoningTextDone,
    Refusal,
    RefusalDelta,
    RefusalDone,
    ResponseError,
    ResponseEvent,
    ResponseLifecycle,
    StreamError,
    TextDelta,
    TextDone,
)
from ..openai.usage import Usage
from ..sse import payloads
from .answer import Echo, Said, encode, mark_incomplete, new_id, reasoning_item, status_of, text_of

__all__ = ["ResponseEvents"]


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(Said):
    content: str | list[Any] | None = None
    tool_calls: list[_ToolDelta] | None = None


class _ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    model: str | None = None
    choices: list[_ChunkChoice] | None = None
    error: Any = None
    """An error event's: OpenAI's object, a number for its code from vLLM and llama.cpp, a bare string from TEI."""


_decode_chunk = msgspec.json.Decoder(_Chunk, strict=False).decode


class _Call:
    """A function call being streamed: opened once its id and name are known."""

    __slots__ = ("arguments", "call_id", "index", "item_id", "name")

    def __init__(self) -> None:
        self.call_id = self.name = self.arguments = ""
        self.index: int | None = None
        self.item_id = new_id("fc")

    def item(self, status: str, arguments: str = "") -> FunctionCallItem:
        return FunctionCallItem(id=self.item_id, call_id=self.call_id, name=self.name, arguments=arguments,
                                status=status)


class ResponseEvents:
    """The Responses events of a streamed chat answer, written as each chat chunk arrives: an item is announced
    when it begins, its text or arguments as deltas, and it is closed when the next kind of output begins (text
    after thinking) or the answer ends. The last event carries the whole response and its usage."""

    def __init__(self, chunks: AsyncIterator[bytes], echo: Echo, usage: Callable[[], Usage | None]) -> None:
        """``usage``: the stream's usage once it ended, as its provider read it (asked for or not)."""
        self._chunks, self._echo, self._read_usage = chunks, echo, usage
        self._sequence = 0
        self._model, self._created = echo.request.model, int(time.time())
        self._output: list[OutputItem] = []
        self._open: str | None = None
        """The kind of text being written (``reasoning``, ``output_text``, ``refusal``), ``None`` between items."""
        self._item_id, self._text, self._blocks = "", "", list[Any]()
        self._message: OutputMessage | None = None
        self._calls: dict[int, _Call] = {}
        self._finish: str | None = None

    async def __aiter__(self) -> AsyncGenerator[bytes, None]:
        yield self._lifecycle("response.created") + self._lifecycle("response.in_progress")
        async for found in payloads(self._chunks):
            pieces: list[bytes] = []
            for payload in found:
                if payload == b"[DONE]":
                    continue
                try:
                    chunk = _decode_chunk(payload)
                except msgspec.DecodeError:
                    chunk = _Chunk(error={"message": "the model's stream sent an event that is not a chat chunk",
                                          "code": "upstream_invalid_event"})
                if chunk.error is not None:
                    pieces.extend(self._failed(chunk.error))
                    yield b"".join(pieces)
                    return
                self._read(chunk, pieces)
            if pieces:
                yield b"".join(pieces)
        pieces = []
        self._finish_output(pieces)
        status = status_of(self._finish)
        response = self._echo.response(self._model, self._created, status, self._output, self._read_usage())
        mark_incomplete(response, self._finish)
        pieces.append(self._event(ResponseLifecycle(type=f"response.{status}", response=response)))
        yield b"".join(pieces)

    def _read(self, chunk: _Chunk, out: list[bytes]) -> None:
        self._model = chunk.model or self._model
        choice = next((choice for choice in chunk.choices or () if choice.index == 0), None)
        if choice is None:  # a usage chunk, or another choice's (n > 1: the Responses API has one)
            return
        delta = choice.delta or _Delta()
        if delta.thinking or delta.thinking_blocks:
            self._write("reasoning", delta.thinking or "", out)
            # Each block comes whole, with its place among them (``index``, for chat stream helpers to merge by).
            self._blocks.extend({k: v for k, v in block.items() if k != "index"}
                                for block in delta.thinking_blocks or () if isinstance(block, dict))
        text = text_of(delta.content)
        if text:
            self._write("output_text", text, out)
        if delta.refusal:
            self._write("refusal", delta.refusal, out)
        for call_delta in delta.tool_calls or ():
            self._call(call_delta, out)
        if choice.finish_reason is not None:
            self._finish = choice.finish_reason

    def _write(self, kind: str, text: str, out: list[bytes]) -> None:
        """``text`` of ``kind``: continues the open part, or closes it and opens one of this kind."""
        if self._open != kind:
            self._close_text(out)
            self._open_text(kind, out)
        self._text += text
        if not text:
            return
        index, item_id = len(self._output), self._item_id
        content = 0 if self._message is None else len(self._message.content)
        if kind == "reasoning":
            out.append(self._event(ReasoningTextDelta(item_id=item_id, output_index=index, content_index=0,
                                                      delta=text)))
        elif kind == "refusal":
            out.append(self._event(RefusalDelta(item_id=item_id, output_index=index, content_index=content,
                                                delta=text)))
        else:
            out.append(self._event(TextDelta(item_id=item_id, output_index=index, content_index=content,
                                             delta=text)))

    def _open_text(self, kind: str, out: list[bytes]) -> None:
        if kind == "reasoning":
            self._close_message(out)  # thinking after text (a new step) is an item of its own
        index = len(self._output)
        self._open, self._text = kind, ""
        if kind == "reasoning":
            self._item_id, self._blocks = new_id("rs"), []
            item = ReasoningItem(id=self._item_id, status="in_progress")
            out.append(self._event(OutputItemAdded(output_index=index, item=item)))
            out.append(self._event(ContentPartAdded(item_id=self._item_id, output_index=index, content_index=0,
                                                    part=ReasoningText(text=""))))
            return
        if self._message is None:  # text and refusal share one message
            self._item_id = new_id("msg")
            self._message = OutputMessage(id=self._item_id, status="in_progress", content=[])
            out.append(self._event(OutputItemAdded(output_index=index, item=self._message)))
        part = OutputText(text="") if kind == "output_text" else Refusal(refusal="")
        out.append(self._event(ContentPartAdded(item_id=self._item_id, output_index=index,
                                                content_index=len(self._message.content), part=part)))

    def _close_text(self, out: list[bytes]) -> None:
        """Closes the open part; and its item unless it is the message and only its part changes."""
        kind, text, index, item_id = self._open, self._text, len(self._output), self._item_id
        if kind is None:
            return
        self._open = None
        if kind == "reasoning":
            out.append(self._event(ReasoningTextDone(item_id=item_id, output_index=index, content_index=0, text=text)))
            out.append(self._event(ContentPartDone(item_id=item_id, output_index=index, content_index=0,
                                                   part=ReasoningText(text=text))))
            item = reasoning_item(text, self._blocks, item_id)
            out.append(self._event(OutputItemDone(output_index=index, item=item)))
            self._output.append(item)
            return
        assert self._message is not None
        content = len(self._message.content)
        part: OutputText | Refusal
        if kind == "refusal":
            part = Refusal(refusal=text)
            out.append(self._event(RefusalDone(item_id=item_id, output_index=index, content_index=content,
                                               refusal=text)))
        else:
            part = OutputText(text=text)
            out.append(self._event(TextDone(item_id=item_id, output_index=index, content_index=content, text=text)))
        out.append(self._event(ContentPartDone(item_id=item_id, output_index=index, content_index=content,
                                               part=part)))
        self._message.content.append(part)

    def _close_message(self, out: list[bytes]) -> None:
        self._close_text(out)
        if self._message is not None:
            self._message.status = status_of(self._finish)
            out.append(self._event(OutputItemDone(output_index=len(self._output), item=self._message)))
            self._output.append(self._message)
            self._message = None

    def _call(self, delta: _ToolDelta, out: list[bytes]) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = _Call()
        if delta.id and call.index is None:  # once announced, the call keeps the id it was announced with
            call.call_id = delta.id
        function = delta.function or _FunctionDelta()
        if function.name and function.name != call.name:  # pieces add up, as in the SDK; a name sent again stays
            call.name += function.name
        if call.index is None:
            call.arguments += function.arguments or ""
            if call.name:  # announced once its name is known; its arguments so far go with it
                self._announce(call, out)
            return
        text = function.arguments or ""
        call.arguments += text
        if text:
            out.append(self._event(FunctionCallArgumentsDelta(item_id=call.item_id, output_index=call.index,
                                                              delta=text)))

    def _announce(self, call: _Call, out: list[bytes]) -> None:
        self._close_message(out)
        call.call_id = call.call_id or new_id("call")  # an upstream that sent none: the output must tie to it
        call.index = len(self._output)
        self._output.append(call.item("in_progress"))
        out.append(self._event(OutputItemAdded(output_index=call.index, item=call.item("in_progress"))))
        if call.arguments:
            out.append(self._event(FunctionCallArgumentsDelta(item_id=call.item_id, output_index=call.index,
                                                              delta=call.arguments)))

    def _finish_output(self, out: list[bytes]) -> None:
        """Closes what is open: the text, then every function call (a provider may interleave their arguments)."""
        self._close_message(out)
        for call in self._calls.values():
            if call.index is None:
                self._announce(call, out)
            assert call.index is not None
            done = call.item(status_of(self._finish), call.arguments)
            self._output[call.index] = done
            out.append(self._event(FunctionCallArgumentsDone(item_id=call.item_id, output_index=call.index,
                                                             arguments=call.arguments)))
            out.append(self._event(OutputItemDone(output_index=call.index, item=done)))

    def _failed(self, failure: Any) -> list[bytes]:
        found = failure if isinstance(failure, dict) else {"message": str(failure)}
        code, param = found.get("code"), found.get("param")
        error = ErrorDetail(message=str(found.get("message") or "the model's stream failed"),
                            type=str(found.get("type") or "server_error"),
                            param=None if param is None else str(param), code=None if code is None else str(code))
        stream_error = StreamError(code=error.code, message=error.message, param=error.param, error=error)
        response = self._echo.response(self._model, self._created, "failed", self._written())
        response.error = ResponseError(code="server_error", message=error.message)
        return [self._event(stream_error), self._event(ResponseLifecycle(type="response.failed", response=response))]

    def _written(self) -> list[OutputItem]:
        """The output a failure cut short: the items done, and those being written, incomplete."""
        items = list(self._output)
        for call in self._calls.values():
            if call.index is not None:
                items[call.index] = call.item("incomplete", call.arguments)
        if self._open == "reasoning":
            thought = reasoning_item(self._text, self._blocks, self._item_id)
            thought.status = "incomplete"
            items.append(thought)
        elif self._message is not None:
            content = list(self._message.content)
            if self._open == "output_text":
                content.append(OutputText(text=self._text))
            elif self._open == "refusal":
                content.append(Refusal(refusal=self._text))
            items.append(OutputMessage(id=self._message.id, status="incomplete", content=content))
        return items

    def _lifecycle(self, kind: str) -> bytes:
        response = self._echo.response(self._model, self._created, "in_progress")
        return self._event(ResponseLifecycle(type=kind, response=response))

    def _event(self, event: ResponseEvent) -> bytes:
        event.sequence_number = self._sequence
        self._sequence += 1
        kind = event.type if isinstance(event, ResponseLifecycle) else _tag(event)
        return b"event: " + kind.encode() + b"\ndata: " + encode(event) + b"\n\n"


_TAGS: dict[type, str] = {}


def _tag(event: msgspec.Struct) -> str:
    cls = type(event)
    tag = _TAGS.get(cls)
    if tag is None:
        tag = _TAGS[cls] = str(cls.__struct_config__.tag)
    return tag
