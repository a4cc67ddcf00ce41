"""A complete chat answer as a response object (:func:`response_body`), and the output items both kinds of answer
are written with."""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import secrets
import time
from typing import Any

import msgspec

from ..errors import UpstreamError
from ..openai.responses import (
    FunctionCallItem,
    IncompleteDetails,
    InputTokensDetails,
    OutputItem,
    OutputMessage,
    OutputText,
    OutputTokensDetails,
    ReasoningConfig,
    ReasoningItem,
    ReasoningText,
    Refusal,
    Response,
    ResponseRequest,
    ResponseUsage,
    TextConfig,
)
from ..openai.usage import Usage

__all__ = ["Echo", "Said", "encode", "mark_incomplete", "new_id", "read_blocks", "reasoning_item", "response_body",
           "status_of", "text_of"]

BLOCKS_PREFIX = "mr-thinking-v1:"
"""Starts the ``encrypted_content`` the gateway writes: Anthropic's signed thinking blocks, base64 JSON."""


class _Function(msgspec.Struct):
    name: str = ""
    arguments: str = ""


class _ToolCall(msgspec.Struct):
    id: str = ""
    function: _Function | None = None


class Said(msgspec.Struct):
    """What a chat answer's message, or a stream chunk's delta, says besides its text and tool calls: thinking,
    under DeepSeek's name or OpenRouter's, Anthropic's signed thinking, a refusal."""

    reasoning_content: str | None = None
    reasoning: str | None = None
    thinking_blocks: list[Any] | None = None
    refusal: str | None = None

    @property
    def thinking(self) -> str | None:
        """The thinking text, whichever name it came under."""
        return self.reasoning_content or self.reasoning


class _Message(Said):
    content: str | list[Any] | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message = msgspec.field(default_factory=_Message)
    finish_reason: str | None = None


class _Completion(msgspec.Struct):
    model: str | None = None
    created: int | None = None
    choices: list[_Choice] | None = None


_decode_completion = msgspec.json.Decoder(_Completion, strict=False).decode
encode = msgspec.json.Encoder().encode


class Echo:
    """What a response says of its request, the same in every event of a stream."""

    __slots__ = ("request", "response_id")

    def __init__(self, request: ResponseRequest) -> None:
        self.request = request
        self.response_id = new_id("resp")

    def response(self, model: str, created: int, status: str, output: list[OutputItem] | None = None,
                 usage: Usage | None = None) -> Response:
        request = self.request
        text = request.text or TextConfig()
        return Response(
            id=self.response_id, created_at=created or int(time.time()), status=status, model=model or request.model,
            output=output or [], instructions=request.instructions, max_output_tokens=request.max_output_tokens,
            metadata=request.metadata or {}, parallel_tool_calls=request.parallel_tool_calls is not False,
            reasoning=request.reasoning or ReasoningConfig(), service_tier=request.service_tier,
            temperature=request.temperature, top_p=request.top_p,
            text=TextConfig(format=text.format or {"type": "text"}, verbosity=text.verbosity or request.verbosity),
            tool_choice=request.tool_choice or "auto", tools=request.tools or [], user=request.user,
            usage=_usage(usage) if usage is not None else None)


def response_body(chat: bytes, echo: Echo, usage: Usage | None) -> bytes:
    """The response object for a complete chat answer; ``usage`` as its provider read it."""
    try:
        completion = _decode_completion(chat)
    except msgspec.DecodeError:
        raise UpstreamError("the model's answer was not a chat completion", code="upstream_invalid_response") from None
    if not completion.choices:
        raise UpstreamError("the model's answer had no choices", code="upstream_invalid_response")
    choice = completion.choices[0]
    message, status = choice.message, status_of(choice.finish_reason)
    output: list[OutputItem] = []
    if message.thinking or message.thinking_blocks:
        output.append(reasoning_item(message.thinking, message.thinking_blocks))
    text = text_of(message.content)
    parts: list[OutputText | Refusal] = [OutputText(text=text)] if text else []
    if message.refusal:
        parts.append(Refusal(refusal=message.refusal))
    if parts:  # an empty answer has no message, streamed or not
        output.append(OutputMessage(id=new_id("msg"), status=status, content=parts))
    for call in message.tool_calls or ():
        function = call.function or _Function()
        output.append(FunctionCallItem(id=new_id("fc"), call_id=call.id or new_id("call"), name=function.name,
                                       arguments=function.arguments, status=status))
    response = echo.response(completion.model or "", completion.created or 0, status, output, usage)
    mark_incomplete(response, choice.finish_reason)
    return encode(response)


def status_of(finish_reason: str | None) -> str:
    """A response's (and its message's) status after a chat answer's ``finish_reason``."""
    return "incomplete" if finish_reason in ("length", "content_filter") else "completed"


def mark_incomplete(response: Response, finish_reason: str | None) -> None:
    """Say why an incomplete response stopped short."""
    if response.status == "incomplete":
        reason = "max_output_tokens" if finish_reason == "length" else "content_filter"
        response.incomplete_details = IncompleteDetails(reason=reason)


def text_of(content: str | list[Any] | None) -> str:
    """A message's or a delta's text: a string, or the text of a list of parts (Mistral's reasoning models')."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = (part.get("text") for part in content if isinstance(part, dict))
    return "".join(text for text in texts if isinstance(text, str))


def reasoning_item(text: str | None, blocks: list[Any] | None, item_id: str | None = None) -> ReasoningItem:
    """The reasoning item of thinking ``text`` (``None``: no text part), carrying Anthropic's signed ``blocks``
    (when there are any) in its ``encrypted_content`` for :func:`read_blocks` to take back."""
    blocks = [block for block in blocks or () if isinstance(block, dict)]  # what read_blocks takes back
    encrypted = BLOCKS_PREFIX + base64.b64encode(encode(blocks)).decode() if blocks else None
    return ReasoningItem(id=item_id or new_id("rs"), content=[] if text is None else [ReasoningText(text=text)],
                         encrypted_content=encrypted)


def _usage(usage: Usage) -> ResponseUsage:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None
    thinking = usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else None
    output = usage.completion_tokens or 0
    return ResponseUsage(input_tokens=usage.prompt_tokens,
                         input_tokens_details=InputTokensDetails(cached_tokens=cached or 0),
                         output_tokens=output,
                         output_tokens_details=OutputTokensDetails(reasoning_tokens=thinking or 0),
                         total_tokens=usage.total_tokens or usage.prompt_tokens + output)


class _Ids:
    """Ids unique across processes without a system call each: 16 random hex digits drawn once per process (again
    in a forked worker), then a counter."""

    def __init__(self) -> None:
        self.seed()
        os.register_at_fork(after_in_child=self.seed)

    def seed(self) -> None:
        self.prefix, self.counter = secrets.token_hex(8), itertools.count()

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self.prefix}{next(self.counter):016x}"


_ids = _Ids()


def new_id(prefix: str) -> str:
    """A fresh id for a response (``resp``) or an output item (``msg``, ``fc``, ``rs``, ``call``)."""
    return _ids.new(prefix)


def read_blocks(encrypted: Any) -> list[Any] | None:
    """The signed thinking blocks the gateway put in ``encrypted_content``; ``None`` for any other content (such as
    OpenAI's own, which only OpenAI can read); ``ValueError`` for the gateway's, changed."""
    if not isinstance(encrypted, str) or not encrypted.startswith(BLOCKS_PREFIX):
        return None
    try:
        blocks = msgspec.json.decode(base64.b64decode(encrypted[len(BLOCKS_PREFIX):], validate=True))
    except (binascii.Error, msgspec.DecodeError):
        blocks = None
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise ValueError("not the thinking blocks the gateway wrote")
    return blocks
