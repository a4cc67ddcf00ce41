"""Chat completions: the request, its messages and content parts, tools, the response and stream chunks.

Messages are a tagged union on ``role`` and content parts one on ``type``, so a request decodes straight into
the right classes and translators dispatch with ``match``.
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
    "FilePart",
    "FunctionCall",
    "FunctionDefinition",
    "FunctionMessage",
    "FunctionTool",
    "ImagePart",
    "ImageURL",
    "InputAudioPart",
    "JSONSchemaFormat",
    "RefusalPart",
    "ResponseFormat",
    "StreamOptions",
    "SystemMessage",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "UserMessage",
]


# -- content parts -------------------------------------------------------------------------------------------


class TextPart(WireBase, tag_field="type", tag="text"):
    """A piece of text."""

    text: str


class ImageURL(WireBase):
    """An image by URL or ``data:`` URI."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(WireBase, tag_field="type", tag="image_url"):
    """An image."""

    image_url: ImageURL


class InputAudio(WireBase):
    """Base64 audio."""

    data: str
    format: str


class InputAudioPart(WireBase, tag_field="type", tag="input_audio"):
    """A piece of audio input."""

    input_audio: InputAudio


class FilePart(WireBase, tag_field="type", tag="file"):
    """A file, by id or inline data."""

    file: dict[str, Any]


class RefusalPart(WireBase, tag_field="type", tag="refusal"):
    """An assistant's refusal, in assistant message history."""

    refusal: str


ContentPart = TextPart | ImagePart | InputAudioPart | FilePart | RefusalPart


# -- tools -------------------------------------------------------------------------------------------------------


class FunctionCall(WireBase):
    """A function the model chose to call; ``arguments`` is a JSON string."""

    name: str
    arguments: str


class ToolCall(WireBase, kw_only=True):
    """One tool call in an assistant message."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionDefinition(WireBase):
    """A callable function offered to the model."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(WireBase, kw_only=True):
    """A tool offered to the model."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(WireBase):
    """The function named by a forced tool choice."""

    name: str


class ToolChoiceObject(WireBase):
    """``{"type": "function", "function": {"name": ...}}`` (or a newer object form, kept as is)."""

    type: str
    function: NamedFunction | None = None


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceObject


# -- messages ----------------------------------------------------------------------------------------------------


class SystemMessage(WireBase, tag_field="role", tag="system"):
    """Instructions from the application."""

    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(WireBase, tag_field="role", tag="developer"):
    """Instructions from the developer (OpenAI's newer name for system)."""

    content: str | list[TextPart]
    name: str | None = None


class UserMessage(WireBase, tag_field="role", tag="user"):
    """What the user said: text, or a list of text, image, audio and file parts."""

    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(WireBase, tag_field="role", tag="assistant"):
    """An earlier model turn in the history, possibly with tool calls."""

    content: str | list[ContentPart] | None = None
    refusal: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None


class ToolMessage(WireBase, tag_field="role", tag="tool", kw_only=True):
    """The result of a tool call."""

    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(WireBase, tag_field="role", tag="function", kw_only=True):
    """The deprecated function-result message."""

    content: str | None
    name: str


ChatMessage = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage


# -- request -----------------------------------------------------------------------------------------------------


class TextFormat(WireBase, tag_field="type", tag="text"):
    """Plain text output."""


class JSONObjectFormat(WireBase, tag_field="type", tag="json_object"):
    """JSON mode."""


class JSONSchemaSpec(WireBase):
    """A named JSON schema for structured output."""

    name: str
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class JSONSchemaFormat(WireBase, tag_field="type", tag="json_schema"):
    """Structured output following a JSON schema."""

    json_schema: JSONSchemaSpec


ResponseFormat = TextFormat | JSONObjectFormat | JSONSchemaFormat


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
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None


# -- response ----------------------------------------------------------------------------------------------------


class ChatCompletionMessage(WireBase):
    """The assistant's reply in a non-streamed response."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(msgspec.Struct, kw_only=True):
    """One choice of a non-streamed response; ``finish_reason`` is always written."""

    index: int
    message: ChatCompletionMessage
    finish_reason: str | None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(WireBase, kw_only=True):
    """A non-streamed chat completion."""

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
    type: Literal["function"] | None = None
    function: FunctionCallDelta | None = None


class ChoiceDelta(WireBase):
    """What one chunk adds to a choice."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """One choice of a stream chunk; ``finish_reason`` is written as ``null`` until the end, as OpenAI does."""

    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletionChunk(WireBase, kw_only=True):
    """One event of a streamed chat completion."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
