"""What the providers that translate OpenAI's chat completions to a native wire format share.

Reading OpenAI messages: :func:`texts` (text-only content), :func:`data_uri`, :func:`tool_arguments`,
:func:`offered_function` and :func:`answered_function`, each raising a 400 that names the offending parameter;
:func:`effort_budget` reads ``reasoning_effort`` as a budget for a provider's own thinking switch, and
:func:`refuse_effort_without_thinking` refuses it for a catalogue model that does not think.
Writing OpenAI streams: :func:`expect_stream` checks that a stream came at all, then :class:`TranslatedStream`
is the event loop around a provider's own per-event translation, which turns every failure after the first byte
into the final OpenAI error event. Native streams come as SSE (:func:`core.sse.payloads`) or, as Ollama's do, as
newline-delimited JSON (:func:`json_lines`).
"""

from __future__ import annotations

import abc
import time
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

import msgspec

from . import errors
from .http import ResponseBody, map_errors
from .model_types import ModelTarget, ProviderContext
from .openai.chat import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChoiceDelta,
    ChunkChoice,
    ContentPart,
    FunctionDefinition,
    Tool,
    ToolCall,
    ToolChoiceObject,
)
from .openai.usage import Usage
from .schema import ConfigurateMethod
from .sse import DONE, error_event, event, payloads

__all__ = [
    "EFFORT_BUDGETS",
    "TranslatedStream",
    "answered_function",
    "check_choice",
    "check_tool_choice",
    "data_uri",
    "effort_budget",
    "expect_stream",
    "json_lines",
    "offered_function",
    "refuse_unserved",
    "texts",
    "tool_arguments",
]

EFFORT_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
"""``reasoning_effort`` as a thinking budget in tokens, as Google's OpenAI-compatible endpoint maps it for Gemini 2.5;
this gateway uses the same for the other providers whose thinking takes a budget (0: thinking off)."""

_decode_object = msgspec.json.Decoder(dict[str, Any]).decode


def texts(content: str | list[ContentPart] | None, at: str) -> list[str]:
    """The texts of a message whose content may only be text (system, tool and assistant messages)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    found = []
    for j, part in enumerate(content):
        if part.type != "text" or part.text is None:
            raise errors.InvalidRequestError(f"Only text parts are allowed here, not '{part.type}'.",
                                             param=f"{at}.content[{j}]", code="unsupported_value")
        found.append(part.text)
    return found


def data_uri(uri: str, at: str) -> tuple[str, str]:
    """``(media type, base64 data)`` of a ``data:<media type>;base64,<data>`` URI."""
    header, comma, data = uri.partition(",")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if not comma or encoding != "base64" or not media_type:
        raise errors.InvalidRequestError("A data: URI must look like data:<media type>;base64,<data>.", param=at,
                                         code="invalid_value")
    return media_type, data


def tool_arguments(call: ToolCall, at: str, provider: str) -> tuple[str, dict[str, Any]]:
    """``(function name, arguments object)`` of an assistant's earlier tool call."""
    if call.function is None:
        raise errors.InvalidRequestError(f"Only function tool calls can be sent to {provider} models.", param=at,
                                         code="unsupported_value")
    try:
        return call.function.name, _decode_object(call.function.arguments or "{}")
    except msgspec.DecodeError:
        raise errors.InvalidRequestError("Tool call arguments must be a JSON object.",
                                         param=f"{at}.function.arguments", code="invalid_value") from None


def offered_function(tool: Tool, index: int, provider: str) -> FunctionDefinition:
    """The function of a tool offered to the model; another kind of tool is a 400 naming it."""
    if tool.type != "function" or tool.function is None:
        raise errors.InvalidRequestError(f"Only function tools can be offered to {provider} models, not "
                                         f"'{tool.type}'.", param=f"tools[{index}]", code="unsupported_value")
    return tool.function


def effort_budget(effort: object, provider: str, budgets: Mapping[str, int] = EFFORT_BUDGETS) -> int:
    """The thinking budget a client's ``reasoning_effort`` asks for; a 400 naming it for a level ``budgets`` lacks."""
    budget = budgets.get(effort) if isinstance(effort, str) else None
    if budget is None:
        names = ", ".join(f"'{name}'" for name in budgets)
        raise errors.InvalidRequestError(f"Invalid value for 'reasoning_effort' with {provider} models: expected one "
                                         f"of {names}.", param="reasoning_effort", code="invalid_value")
    return budget


def refuse_effort_without_thinking(target: ModelTarget, raw: Mapping[str, Any]) -> None:
    """A 400 for ``reasoning_effort`` sent to a catalogue model whose rules do not list it: it does not think, as
    OpenAI answers for its own such models. A model the profile declares (or a listing brought) may think, and is
    left to its upstream."""
    schema = target.schema
    if raw.get("reasoning_effort") is None or schema is None:
        return
    if schema.fetch_from not in (None, ConfigurateMethod.PREDEFINED_MODEL):
        return
    if not any(rule.name == "reasoning_effort" for rule in schema.parameter_rules):
        raise errors.InvalidRequestError(f"Model '{schema.model}' does not think: 'reasoning_effort' is not supported "
                                         "with it.", param="reasoning_effort", code="unsupported_parameter")


def refuse_unserved(raw: Mapping[str, Any], provider: str) -> None:
    """400 for what a translating plug-in cannot pass on to ``provider`` and would otherwise drop quietly: OpenAI's
    deprecated ``functions``, and audio output."""
    _refuse_legacy_functions(raw, provider)
    _refuse_audio_output(raw, provider)


def _refuse_audio_output(raw: Mapping[str, Any], provider: str) -> None:
    """400 for ``modalities`` asking for more than text, or ``audio`` output settings: the model would answer in
    text alone as if nothing had been asked."""
    modalities = raw.get("modalities")
    if isinstance(modalities, list) and any(m != "text" for m in modalities):
        raise errors.InvalidRequestError(f"{provider} models answer in text only: send 'modalities' as [\"text\"] "
                                         "or leave it out.", param="modalities", code="unsupported_value")
    if raw.get("audio") is not None:
        raise errors.InvalidRequestError(f"{provider} models do not answer with audio.", param="audio",
                                         code="unsupported_parameter")


def _refuse_legacy_functions(raw: Mapping[str, Any], provider: str) -> None:
    """400 for OpenAI's deprecated ``functions`` and ``function_call``, which a translator would otherwise drop:
    the model would answer without the functions it was offered."""
    for name, instead in (("functions", "tools"), ("function_call", "tool_choice")):
        if raw.get(name) is not None:
            raise errors.InvalidRequestError(f"'{name}' is OpenAI's deprecated form of '{instead}', which {provider} "
                                             f"models take: send '{instead}'.", param=name,
                                             code="unsupported_parameter")


def check_tool_choice(request: ChatCompletionRequest) -> None:
    """400 for a ``tool_choice`` no tool can meet: ``required`` without tools, or a function not among them (for
    upstreams that would answer without calling one)."""
    choice = request.tool_choice
    named = choice.function.name if isinstance(choice, ToolChoiceObject) and choice.function is not None else None
    check_choice(choice == "required", named,
                 {tool.function.name for tool in request.tools or () if tool.function is not None})


def check_choice(required: bool, named: str | None, names: Collection[str]) -> None:
    """400 for a tool choice that is ``required`` with no tools ``names``, or ``named`` a function not among them."""
    if required and not names:
        raise errors.InvalidRequestError("tool_choice 'required' needs tools to choose from.", param="tool_choice",
                                         code="invalid_value")
    if named is not None and named not in names:
        raise errors.InvalidRequestError(f"tool_choice names the function '{named}', which is not among the tools.",
                                         param="tool_choice", code="invalid_value")


def answered_function(names: Mapping[str, str], call_id: str, at: str) -> str:
    """The function a tool message answers, from ``names`` (call id -> function name) of the earlier assistant tool
    calls: OpenAI's tool messages carry only the id, where native APIs want the name."""
    name = names.get(call_id)
    if name is None:
        raise errors.InvalidRequestError(f"No earlier assistant tool call has the id '{call_id}'.",
                                         param=f"{at}.tool_call_id", code="invalid_value")
    return name


async def expect_stream(response: ResponseBody, media_type: str, provider: str) -> None:
    """Close ``response`` and raise when the upstream answered a stream request with anything but ``media_type``."""
    if not response.headers.get("content-type", "").startswith(media_type):
        await response.aclose()
        raise errors.UpstreamError(f"provider instance '{provider}' answered a stream request without a stream",
                                   code="upstream_invalid_response")


async def json_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The lines of a newline-delimited JSON stream completed by each read, as soon as they are complete (a partial
    line waits for the rest; a last line missing its newline is taken at the end). Blank lines are dropped."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        end = pending.rfind(b"\n")
        if end >= 0:
            ready, pending = pending[:end], pending[end + 1:]
            found = [line for line in ready.split(b"\n") if line.strip()]
            if found:
                yield found
    if pending.strip():
        yield [pending]


class TranslatedStream(abc.ABC):
    """An :class:`~core.model_types.EventStream` translating a native stream into OpenAI chunks as events arrive.

    A subclass translates one event's payload (:meth:`translate`, which may raise any
    :class:`~core.errors.ModelRuntimeError`) and says how the stream ends (:meth:`finish`: the last chunks and
    ``[DONE]``, or an error if the upstream stopped too early). Whatever fails becomes the final error event.
    Events are SSE ``data:`` payloads unless the subclass reads another framing (:meth:`frames`).
    """

    def __init__(self, response: ResponseBody, context: ProviderContext, model: str) -> None:
        self.response, self.context, self.model = response, context, model
        self.id, self.created = "chatcmpl-" + uuid.uuid4().hex, int(time.time())
        self.ended = False
        """Set by a subclass when the upstream said the stream is over (no later event is read)."""
        self._final_usage: Usage | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            with map_errors(self.context, streaming=True):
                async for found in self.frames():
                    out, failure = self._translated(found)
                    if out:
                        yield out
                    if failure is not None:
                        raise failure
                    if self.ended:
                        break
            yield self.finish()
        except errors.ModelRuntimeError as exc:
            yield error_event(exc)
        finally:
            await self.response.aclose()

    async def aclose(self) -> None:
        """Close the upstream response."""
        await self.response.aclose()

    def _translated(self, found: list[bytes]) -> tuple[bytes, errors.ModelRuntimeError | None]:
        """The events for one read, and the failure that stopped them: what came before it is still delivered."""
        out: list[bytes] = []
        for data in found:
            try:
                out.append(self.translate(data))
            except errors.ModelRuntimeError as exc:
                return b"".join(out), exc
        return b"".join(out), None

    def frames(self) -> AsyncIterator[list[bytes]]:
        """The upstream's event payloads, a list per read: SSE ``data:`` payloads here."""
        return payloads(self.response.aiter_bytes())

    @abc.abstractmethod
    def translate(self, data: bytes) -> bytes:
        """The OpenAI events for one upstream event (possibly none)."""

    @abc.abstractmethod
    def finish(self) -> bytes:
        """The closing events, ``data: [DONE]`` last; raise if the upstream ended before it was complete."""

    def chunk(self, delta: ChoiceDelta, finish: str | None = None, index: int = 0) -> bytes:
        """One chat completion chunk event."""
        return event(ChatCompletionChunk(id=self.id, created=self.created, model=self.model,
                                         choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)]))

    @property
    def usage(self) -> Usage | None:
        """What the stream used, whether or not the client asked to see it: the final count once it ended
        (:meth:`last`), before that what the upstream has reported so far (:meth:`usage_so_far`), so that a
        client that leaves early is charged for what it was sent."""
        return self._final_usage if self._final_usage is not None else self.usage_so_far()

    def usage_so_far(self) -> Usage | None:
        """The usage the upstream has reported before the end, where it reports any (subclasses)."""
        return None

    def last(self, usage: Usage | None, include_usage: bool) -> bytes:
        """The stream's end: ``[DONE]``, after a usage chunk when the client asked for one. The usage is kept
        either way (:attr:`usage`), so that limits and usage records count every stream."""
        self._final_usage = usage
        if not include_usage or usage is None:
            return DONE
        return event(ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[],
                                         usage=usage)) + DONE

    def broken(self, what: str, code: str = "upstream_stream_interrupted") -> errors.UpstreamError:
        """The error for a stream the upstream broke (``what`` completes "provider instance 'x' ...")."""
        return errors.UpstreamError(f"provider instance '{self.context.name}' {what}", code=code)
