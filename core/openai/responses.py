"""The Responses API (``POST /v1/responses``): the request, the response object, its output items and the events
of a streamed response, as the openai SDK reads them.

Input items and tools stay open records (``dict``): :mod:`core.responses` reads them one by one, so that a 400
names the item at fault (``input[3].content[0].type``). The response side is written whole, ``null`` fields too,
as OpenAI writes it: a client built with strict validation finds every field it requires.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .base import WireBase
from .errors import ErrorDetail

__all__ = [
    "ContentPartAdded",
    "ContentPartDone",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "FunctionCallItem",
    "IncompleteDetails",
    "InputTokensDetails",
    "OutputItem",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputMessage",
    "OutputPart",
    "OutputText",
    "OutputTokensDetails",
    "ReasoningConfig",
    "ReasoningItem",
    "ReasoningText",
    "ReasoningTextDelta",
    "ReasoningTextDone",
    "Refusal",
    "RefusalDelta",
    "RefusalDone",
    "Response",
    "ResponseError",
    "ResponseEvent",
    "ResponseLifecycle",
    "ResponseRequest",
    "ResponseUsage",
    "StreamError",
    "SummaryText",
    "TextConfig",
    "TextDelta",
    "TextDone",
]


# -- request -----------------------------------------------------------------------------------------------------


class TextConfig(WireBase):
    """``text``: the output's ``format`` (``text``, ``json_object``, or ``json_schema`` with its fields flat) and
    ``verbosity``."""

    format: dict[str, Any] | None = None
    verbosity: str | None = None


class ReasoningConfig(WireBase):
    """``reasoning``: the ``effort`` (``none`` to ``xhigh``) and whether to ``summary`` the thinking."""

    effort: str | None = None
    summary: str | None = None


class ResponseRequest(WireBase):
    """``POST /v1/responses``. Fields not listed here are ignored (the openai SDK's ``extra_body`` may add any)."""

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    text: TextConfig | None = None
    verbosity: str | None = None
    """Sent at the top level by the SDK's ``responses.parse``: ``text.verbosity``."""
    reasoning: ReasoningConfig | None = None
    stream: bool | None = None
    top_logprobs: int | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    store: bool | None = None
    include: list[str] | None = None
    truncation: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    background: bool | None = None
    prompt: dict[str, Any] | None = None


# -- response ----------------------------------------------------------------------------------------------------


class OutputText(msgspec.Struct, tag_field="type", tag="output_text", kw_only=True):
    """Text the model wrote."""

    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class Refusal(msgspec.Struct, tag_field="type", tag="refusal", kw_only=True):
    """The model's refusal to answer."""

    refusal: str


class ReasoningText(msgspec.Struct, tag_field="type", tag="reasoning_text", kw_only=True):
    """The model's thinking, as it wrote it."""

    text: str


class SummaryText(msgspec.Struct, tag_field="type", tag="summary_text", kw_only=True):
    """A summary of the model's thinking."""

    text: str


OutputPart = OutputText | Refusal | ReasoningText


class OutputMessage(msgspec.Struct, tag_field="type", tag="message", kw_only=True):
    """The assistant's message: its text or refusal."""

    id: str
    role: Literal["assistant"] = "assistant"
    status: str
    content: list[OutputText | Refusal]


class FunctionCallItem(msgspec.Struct, tag_field="type", tag="function_call", kw_only=True):
    """A call of one of the request's function tools; ``call_id`` ties its output to it."""

    id: str
    call_id: str
    name: str
    arguments: str
    status: str


class ReasoningItem(msgspec.Struct, tag_field="type", tag="reasoning", kw_only=True):
    """The model's thinking. ``encrypted_content`` carries what the provider needs back in the next turn (the
    gateway's own encoding of Anthropic's signed blocks), ``None`` when it needs nothing."""

    id: str
    summary: list[SummaryText] = msgspec.field(default_factory=list)
    content: list[ReasoningText] = msgspec.field(default_factory=list)
    encrypted_content: str | None = None
    status: str = "completed"


OutputItem = OutputMessage | FunctionCallItem | ReasoningItem


class InputTokensDetails(msgspec.Struct, kw_only=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct, kw_only=True):
    """Tokens in and out: chat's ``prompt_tokens`` are ``input_tokens``, its ``completion_tokens`` ``output_tokens``."""

    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(msgspec.Struct, kw_only=True):
    """Why a response stopped short: ``max_output_tokens`` or ``content_filter``."""

    reason: str


class ResponseError(msgspec.Struct, kw_only=True):
    """Why a response failed after it began."""

    code: str
    message: str


class Response(msgspec.Struct, kw_only=True):
    """The response object: the request's settings echoed, the ``output`` items, the ``usage``."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: str
    background: bool = False
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    model: str
    output: list[OutputItem] = msgspec.field(default_factory=list)
    parallel_tool_calls: bool = True
    previous_response_id: None = None
    reasoning: ReasoningConfig
    service_tier: str | None = None
    store: bool = False
    temperature: float | None = None
    text: TextConfig
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    top_p: float | None = None
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None


# -- stream events -------------------------------------------------------------------------------------------------


class ResponseLifecycle(msgspec.Struct, kw_only=True):
    """``response.created``, ``.in_progress``, ``.completed``, ``.incomplete`` or ``.failed``: the response so far."""

    type: str
    sequence_number: int = 0
    response: Response


class _Event(msgspec.Struct, kw_only=True):
    sequence_number: int = 0
    """The event's place in the stream, from 0 (set as it is written)."""


class _ItemEvent(_Event, kw_only=True):
    output_index: int


class _PartEvent(_ItemEvent, kw_only=True):
    item_id: str
    content_index: int


class OutputItemAdded(_ItemEvent, tag_field="type", tag="response.output_item.added", kw_only=True):
    item: OutputItem


class OutputItemDone(_ItemEvent, tag_field="type", tag="response.output_item.done", kw_only=True):
    item: OutputItem


class ContentPartAdded(_PartEvent, tag_field="type", tag="response.content_part.added", kw_only=True):
    part: OutputPart


class ContentPartDone(_PartEvent, tag_field="type", tag="response.content_part.done", kw_only=True):
    part: OutputPart


class TextDelta(_PartEvent, tag_field="type", tag="response.output_text.delta", kw_only=True):
    delta: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


class TextDone(_PartEvent, tag_field="type", tag="response.output_text.done", kw_only=True):
    text: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


class RefusalDelta(_PartEvent, tag_field="type", tag="response.refusal.delta", kw_only=True):
    delta: str


class RefusalDone(_PartEvent, tag_field="type", tag="response.refusal.done", kw_only=True):
    refusal: str


class ReasoningTextDelta(_PartEvent, tag_field="type", tag="response.reasoning_text.delta", kw_only=True):
    delta: str


class ReasoningTextDone(_PartEvent, tag_field="type", tag="response.reasoning_text.done", kw_only=True):
    text: str


class FunctionCallArgumentsDelta(_ItemEvent, tag_field="type", tag="response.function_call_arguments.delta",
                                 kw_only=True):
    item_id: str
    delta: str


class FunctionCallArgumentsDone(_ItemEvent, tag_field="type", tag="response.function_call_arguments.done",
                                kw_only=True):
    item_id: str
    arguments: str


class StreamError(_Event, tag_field="type", tag="error", kw_only=True):
    """A failure after the stream began. The fields are written flat, as the SDK's type has them, and nested
    under ``error``, as OpenAI's API sends them and as the Python SDK needs them to raise ``APIError``."""

    code: str | None
    message: str
    param: str | None
    error: ErrorDetail


ResponseEvent = (
    ResponseLifecycle | OutputItemAdded | OutputItemDone | ContentPartAdded | ContentPartDone | TextDelta | TextDone
    | RefusalDelta | RefusalDone | ReasoningTextDelta | ReasoningTextDone | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone | StreamError
)
