"""Gemini's ``streamGenerateContent?alt=sse`` events as OpenAI chat completion chunks, as they arrive.

Each event is a whole ``GenerateContentResponse`` holding the next piece of each candidate: text parts become
``content`` deltas and thought parts ``reasoning_content`` deltas, a ``functionCall`` part (Gemini sends each call
whole) becomes a tool call delta with its complete arguments (only a choice's first with ``parallel_tool_calls:
false``), and a ``finishReason`` ends that choice. Usage comes
with the events; the last one is sent in a final chunk when the client asked for ``stream_options.include_usage``.
A stream that ends before every choice finished, or an event that is not a response, ends with an OpenAI error
event.
"""

from __future__ import annotations

import msgspec

from core import errors
from core.http import ResponseBody
from core.model_types import ProviderContext
from core.openai.chat import ChoiceDelta, FunctionCallDelta, ToolCallDelta
from core.openai.usage import Usage
from core.translate import TranslatedStream

from .contents import GenerateContentResponse, UsageMetadata, call_arguments, finish_reason, openai_usage, tool_call_id

__all__ = ["GeminiStream"]

_decode = msgspec.json.Decoder(GenerateContentResponse).decode


class _Choice:
    __slots__ = ("calls", "finished", "started")

    def __init__(self) -> None:
        self.started = self.finished = False
        self.calls = 0


class GeminiStream(TranslatedStream):
    """An :class:`~core.model_types.EventStream` over an open ``streamGenerateContent`` response."""

    def __init__(self, response: ResponseBody, context: ProviderContext, model: str, include_usage: bool,
                 choices: int, one_call: bool = False) -> None:
        super().__init__(response, context, model)
        self._include_usage = include_usage
        self._one_call = one_call
        """Only each choice's first function call (``parallel_tool_calls: false``)."""
        self._choices = [_Choice() for _ in range(choices)]
        self._usage: UsageMetadata | None = None

    def translate(self, data: bytes) -> bytes:
        try:
            response = _decode(data)
        except msgspec.MsgspecError:
            raise self.broken("sent an event that is not a GenerateContentResponse", "upstream_invalid_event") from None
        if response.prompt_feedback is not None and response.prompt_feedback.block_reason and not response.candidates:
            raise errors.InvalidRequestError("The prompt was blocked by the provider's safety filters "
                                             f"({response.prompt_feedback.block_reason}).", code="content_filter")
        if response.usage_metadata is not None:
            self._usage = response.usage_metadata
        if response.model_version:
            self.model = response.model_version
        out = []
        for candidate in response.candidates:
            if not 0 <= candidate.index < len(self._choices):
                continue
            choice = self._choices[candidate.index]
            if not choice.started:
                choice.started = True
                out.append(self.chunk(ChoiceDelta(role="assistant", content=""), index=candidate.index))
            for part in candidate.content.parts if candidate.content is not None else []:
                if part.function_call is not None:
                    if self._one_call and choice.calls:
                        continue
                    call = part.function_call
                    arguments = call_arguments(call)
                    delta = ToolCallDelta(index=choice.calls, id=tool_call_id(part), type="function",
                                          function=FunctionCallDelta(name=call.name, arguments=arguments))
                    choice.calls += 1
                    out.append(self.chunk(ChoiceDelta(tool_calls=[delta]), index=candidate.index))
                elif part.text:
                    said = ChoiceDelta(reasoning_content=part.text) if part.thought else ChoiceDelta(content=part.text)
                    out.append(self.chunk(said, index=candidate.index))
            reason = finish_reason(candidate.finish_reason, choice.calls > 0)
            if reason is not None and not choice.finished:
                choice.finished = True
                out.append(self.chunk(ChoiceDelta(), reason, candidate.index))
        return b"".join(out)

    def usage_so_far(self) -> Usage | None:
        return openai_usage(self._usage) if self._usage is not None else None

    def finish(self) -> bytes:
        if not all(choice.finished for choice in self._choices):
            raise self.broken("ended the stream before it was complete")
        return self.last(self.usage_so_far(), self._include_usage)
