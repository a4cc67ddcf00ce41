"""Chat completions: the request, its messages and content parts, tools, the response and stream chunks.

Messages are a tagged union on ``role``, so a request decodes straight into the right class and translators
dispatch with ``match``; content parts, tools and response formats are open records keyed by ``type``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .base import WireBase
from .usage import Usage

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "ContentPart",
    "DeveloperMessage",
    "FunctionCall",
    "FunctionDefinition",
    "FunctionMessage",
    "ImageURL",
    "InputAudio",
    "ResponseFormat",
    "StreamOptions",
    "SystemMessage",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "UserMessage",
]


# -- content parts -------------------------------------------------------------------------------------------
#
# Parts, tools and response formats are open records keyed by ``type`` rather than closed tagged unions: a type
# OpenAI adds tomorrow must still reach an OpenAI-compatible upstream, and a translator to a native wire format
# rejects the types it cannot express with a 400 that names them.


_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
_TOOL_TYPES = frozenset({"function", "custom"})


def _require_field_named_by_type(record: msgspec.Struct, known: frozenset[str] | set[str]) -> None:
    """A known ``type`` needs the field of the same name (``{"type": "text", "text": ...}``)."""
    kind: str = getattr(record, "type")  # noqa: B009 - every caller has a `type` field
    if kind in known and getattr(record, kind) is None:
        raise ValueError(f"Object missing required field `{kind}`")  # read as a missing parameter


class ImageURL(WireBase):
    """An image by URL or ``data:`` URI; ``detail`` is ``auto``, ``low``, ``high`` or a newer level."""

    url: str
    detail: str | None = None


class InputAudio(WireBase):
    """Base64 audio."""

    data: str
    format: str


class ContentPart(WireBase, kw_only=True):
    """One part of a message: ``text``, ``image_url``, ``input_audio``, ``file``, ``refusal`` or a newer type."""

    type: str
    text: str | None = None
    image_url: ImageURL | None = None
    input_audio: InputAudio | None = None
    file: dict[str, Any] | None = None
    refusal: str | None = None

    def __post_init__(self) -> None:
        _require_field_named_by_type(self, _PART_TYPES)


# -- tools -------------------------------------------------------------------------------------------------------


class FunctionCall(WireBase):
    """A function the model chose to call; ``arguments`` is a JSON string."""

    name: str
    arguments: str


class ToolCall(WireBase, kw_only=True):
    """One tool call in an assistant message: a ``function`` call, or a ``custom`` tool's free-form input."""

    id: str
    type: str  # required, as OpenAI requires it: a default would also be left out of translated responses
    function: FunctionCall | None = None
    custom: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _require_field_named_by_type(self, _TOOL_TYPES)


class FunctionDefinition(WireBase):
    """A callable function offered to the model."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(WireBase, kw_only=True):
    """A tool offered to the model: a ``function``, or a ``custom`` tool (or a newer type, forwarded as is)."""

    type: str = "function"
    function: FunctionDefinition | None = None
    custom: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _require_field_named_by_type(self, _TOOL_TYPES)


class NamedFunction(WireBase):
    """The function named by a forced tool choice."""

    name: str


class ToolChoiceObject(WireBase):
    """``{"type": "function", "function": {"name": ...}}`` (or a newer object form, kept as is)."""

    type: str
    function: NamedFunction | None = None


ToolChoice = str | ToolChoiceObject
"""``none``, ``auto``, ``required`` or an object naming what to call."""


# -- messages ----------------------------------------------------------------------------------------------------


class SystemMessage(WireBase, tag_field="role", tag="system"):
    """Instructions from the application."""

    content: str | list[ContentPart]
    name: str | None = None


class DeveloperMessage(WireBase, tag_field="role", tag="developer"):
    """Instructions from the developer (OpenAI's newer name for system)."""

    content: str | list[ContentPart]
    name: str | None = None


class UserMessage(WireBase, tag_field="role", tag="user"):
    """What the user said: text, or a list of text, image, audio and file parts."""

    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(WireBase, tag_field="role", tag="assistant"):
    """An earlier model turn in the history, possibly with tool calls, and with the thinking of a model that
    answered with it (``thinking_blocks``: Anthropic's signed blocks, which its tool loops want back)."""

    content: str | list[ContentPart] | None = None
    reasoning_content: str | None = None
    thinking_blocks: list[dict[str, Any]] | None = None
    refusal: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None


class ToolMessage(WireBase, tag_field="role", tag="tool", kw_only=True):
    """The result of a tool call."""

    content: str | list[ContentPart]
    tool_call_id: str


class FunctionMessage(WireBase, tag_field="role", tag="function", kw_only=True):
    """The deprecated function-result message."""

    content: str | None
    name: str


ChatMessage = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage


# -- request -----------------------------------------------------------------------------------------------------


class JSONSchemaSpec(WireBase):
    """A named JSON schema for structured output."""

    name: str
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormat(WireBase, kw_only=True):
    """``text``, ``json_object`` (JSON mode) or ``json_schema`` (structured output, with ``json_schema`` set)."""

    type: str
    json_schema: JSONSchemaSpec | None = None

    def __post_init__(self) -> None:
        _require_field_named_by_type(self, {"json_schema"})


class StreamOptions(WireBase):
    """Stream options; ``include_usage`` adds a final usage chunk."""

    include_usage: bool | None = None


class ChatCompletionRequest(WireBase):
    """``POST /v1/chat/completions``. Fields not listed here are kept in the raw body and forwarded."""

    model: str
    messages: list[ChatMessage]
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    response_format: ResponseFormat | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None


# -- response ----------------------------------------------------------------------------------------------------


class ChatCompletionMessage(msgspec.Struct, kw_only=True):
    """The assistant's reply in a non-streamed response, written whole as OpenAI writes it (``role`` always,
    ``content`` and ``refusal`` as ``null`` when empty).

    ``reasoning_content`` is the model's thinking text, under the name DeepSeek, vLLM and Zhipu give it (their
    answers pass through as they are); ``thinking_blocks`` the thinking as Anthropic signs it, for the client to
    send back with the message. Both are written only when the model thought aloud."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning_content: str | msgspec.UnsetType = msgspec.UNSET
    thinking_blocks: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(msgspec.Struct, kw_only=True):
    """One choice of a non-streamed response; ``finish_reason`` is always written."""

    index: int
    message: ChatCompletionMessage
    finish_reason: str | None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(msgspec.Struct, kw_only=True):
    """A non-streamed chat completion, written whole as OpenAI writes it (``object`` always, ``null`` fields too)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


class FunctionCallDelta(WireBase):
    """A fragment of a streamed function call."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(WireBase):
    """A fragment of a streamed tool call; ``index`` ties fragments together."""

    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class ChoiceDelta(WireBase):
    """What one chunk adds to a choice."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None
    thinking_blocks: list[dict[str, Any]] | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """One choice of a stream chunk; ``finish_reason`` is written as ``null`` until the end, as OpenAI does."""

    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(msgspec.Struct, kw_only=True):
    """One event of a streamed chat completion, written whole as OpenAI writes it (``object`` always)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
