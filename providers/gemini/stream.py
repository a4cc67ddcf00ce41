"""Gemini's ``streamGenerateContent?alt=sse`` events as OpenAI chat completion chunks, as they arrive.

Each event is a whole ``GenerateContentResponse`` holding the next piece of each candidate: text parts become
``content`` deltas, a ``functionCall`` part (Gemini sends each call whole) becomes a tool call delta with its
complete arguments, and a ``finishReason`` ends that choice. Usage comes with the events; the last one is sent
in a final chunk when the client asked for ``stream_options.include_usage``. A stream that ends before every
choice finished, or an event that is not a response, ends with an OpenAI error event.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import msgspec

from core import errors
from core.model_types import ProviderContext
from core.openai.chat import ChatCompletionChunk, ChoiceDelta, ChunkChoice, FunctionCallDelta, ToolCallDelta
from core.sse import DONE, error_event, event, payloads
from providers.openai_compatible.errors import map_errors

from .contents import GenerateContentResponse, UsageMetadata, finish_reason, openai_usage, tool_call_id

__all__ = ["GeminiStream"]

_decode = msgspec.json.Decoder(GenerateContentResponse).decode


class _Choice:
    __slots__ = ("calls", "finished", "started")

    def __init__(self) -> None:
        self.started = self.finished = False
        self.calls = 0


class GeminiStream:
    """An :class:`~core.model_types.EventStream` over an open ``streamGenerateContent`` response."""

    def __init__(self, response: httpx.Response, context: ProviderContext, model: str, include_usage: bool,
                 choices: int, blocked: type[errors.ModelRuntimeError]) -> None:
        self._response, self._context, self._model = response, context, model
        self._include_usage, self._blocked = include_usage, blocked
        self._id, self._created = "chatcmpl-" + uuid.uuid4().hex, int(time.time())
        self._choices = [_Choice() for _ in range(choices)]
        self._usage: UsageMetadata | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            with map_errors(self._context, streaming=True):
                async for found in payloads(self._response.aiter_bytes()):
                    out = b"".join([self._translate(data) for data in found])
                    if out:
                        yield out
            if not all(choice.finished for choice in self._choices):
                raise errors.UpstreamError(f"provider instance '{self._context.name}' ended the stream before it "
                                           "was complete", code="upstream_stream_interrupted")
            if self._include_usage and self._usage is not None:
                yield event(ChatCompletionChunk(id=self._id, created=self._created, model=self._model, choices=[],
                                                usage=openai_usage(self._usage)))
            yield DONE
        except errors.ModelRuntimeError as exc:
            yield error_event(exc)
        finally:
            await self._response.aclose()

    async def aclose(self) -> None:
        """Close the upstream response."""
        await self._response.aclose()

    def _translate(self, data: bytes) -> bytes:
        try:
            response = _decode(data)
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self._context.name}' sent an event that is not a "
                                       "GenerateContentResponse", code="upstream_invalid_event") from None
        if response.prompt_feedback is not None and response.prompt_feedback.block_reason and not response.candidates:
            raise self._blocked(f"The prompt was blocked by the provider's safety filters "
                                f"({response.prompt_feedback.block_reason}).", code="content_filter")
        if response.usage_metadata is not None:
            self._usage = response.usage_metadata
        if response.model_version:
            self._model = response.model_version
        out = []
        for candidate in response.candidates:
            if not 0 <= candidate.index < len(self._choices):
                continue
            choice = self._choices[candidate.index]
            if not choice.started:
                choice.started = True
                out.append(self._chunk(candidate.index, ChoiceDelta(role="assistant", content="")))
            for part in candidate.content.parts if candidate.content is not None else []:
                if part.function_call is not None:
                    call = part.function_call
                    arguments = bytes(call.args).decode() if call.args else "{}"
                    delta = ToolCallDelta(index=choice.calls, id=tool_call_id(part), type="function",
                                          function=FunctionCallDelta(name=call.name, arguments=arguments))
                    choice.calls += 1
                    out.append(self._chunk(candidate.index, ChoiceDelta(tool_calls=[delta])))
                elif part.text and not part.thought:
                    out.append(self._chunk(candidate.index, ChoiceDelta(content=part.text)))
            reason = finish_reason(candidate.finish_reason, choice.calls > 0)
            if reason is not None and not choice.finished:
                choice.finished = True
                out.append(self._chunk(candidate.index, ChoiceDelta(), reason))
        return b"".join(out)

    def _chunk(self, index: int, delta: ChoiceDelta, finish: str | None = None) -> bytes:
        return event(ChatCompletionChunk(id=self._id, created=self._created, model=self._model,
                                         choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)]))

