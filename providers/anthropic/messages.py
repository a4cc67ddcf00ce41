"""OpenAI chat completions to Anthropic's Messages API and back.

Request: system and developer messages become the top-level ``system``; tool results become ``tool_result`` blocks
of a user turn; consecutive turns of one role are merged (the Messages API alternates user and assistant); images go
as ``base64`` or ``url`` sources; ``stop`` becomes ``stop_sequences``; ``tool_choice`` ``required`` becomes ``any``
and ``parallel_tool_calls: false`` becomes ``disable_parallel_tool_use``; ``response_format`` becomes
``output_config.format`` (a JSON schema; JSON mode asks for any object). ``max_tokens`` is required upstream: the
model's default (its rule's) goes when the client sends none. Thinking: Anthropic's own ``thinking`` object, sent as
an extra field, passes through; ``reasoning_effort`` becomes ``thinking`` with a token budget (``EFFORT_BUDGETS``;
``none`` turns it off). As in OpenAI's reasoning models and in Anthropic's, a client's ``max_tokens`` caps thinking
and answer together: an effort's budget is cut to at most half of it (but Anthropic's minimum of 1,024), so that the
answer keeps room. Without one, the budget (an effort's, or the one the client's own ``thinking`` names) comes on
top of the model's default, up to the model's ceiling, where an effort's budget shrinks to keep the default's room
for the answer (or half the ceiling). An assistant message's ``thinking_blocks`` (as this translation returns them)
go back before its other blocks when the request thinks, as Anthropic wants in a tool loop. What Anthropic cannot do
(several choices, log probabilities, penalties, audio input) is a 400 naming the parameter, rather than an answer
that silently ignores it.

Response: text blocks are joined into ``content``, thinking blocks into ``reasoning_content`` (and kept whole,
signatures and redacted ones included, in ``thinking_blocks``), ``tool_use`` blocks become ``tool_calls`` with their
input as a JSON string, ``stop_reason`` becomes ``finish_reason`` and usage counts cached prompt tokens in
``prompt_tokens`` as OpenAI does (``cached_tokens`` says how many were read from the cache).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from core.errors import InvalidRequestError
from core.openai.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionMessage,
    ChatCompletionRequest,
    Choice,
    ContentPart,
    DeveloperMessage,
    FunctionCall,
    FunctionMessage,
    SystemMessage,
    ToolCall,
    ToolChoiceObject,
    ToolMessage,
    UserMessage,
)
from core.openai.usage import PromptTokensDetails, Usage
from core.translate import data_uri, effort_budget, offered_function, refuse_unserved, texts, tool_arguments

__all__ = ["EFFORT_BUDGETS", "FINISH_REASONS", "AnthropicUsage", "Message", "build_request", "chat_completion",
           "openai_usage", "thinking_block"]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic's ``stop_reason`` as OpenAI's ``finish_reason``; an unknown reason passes as ``stop``."""

_DEFAULT_MAX_TOKENS = 4096
"""Only for a model without a ``max_tokens`` rule (a customizable one without ``max_tokens_to_sample``)."""
EFFORT_BUDGETS = {"none": 0, "minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768,
                  "max": 64000}
"""``reasoning_effort`` as a thinking budget in tokens (0: thinking off; 1,024 is Anthropic's minimum; any budget is
cut to fit under ``max_tokens``)."""
_MIN_BUDGET = 1024
_LARGEST_OUTPUT = 64_000
"""The ceiling for a model whose rules give none: the most any Claude model in the catalogue writes."""
_THINKING_BLOCKS = {"thinking": ("thinking", "signature"), "redacted_thinking": ("data",)}
_UNSUPPORTED = ("logprobs", "top_logprobs", "logit_bias", "frequency_penalty", "presence_penalty")
_JSON_OBJECT = {"type": "object", "additionalProperties": True}

_encode = msgspec.json.Encoder().encode


# -- the request -------------------------------------------------------------------------------------------------


def build_request(request: ChatCompletionRequest, raw: dict[str, Any], model: str,
                  default_max_tokens: int | None, max_tokens_ceiling: int | None = None) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat request (``raw`` is the client's JSON after parameter rules)."""
    _reject_unsupported(request, raw)
    refuse_unserved(raw, "Anthropic")
    thinking, max_tokens = _thinking(raw, request.max_completion_tokens or request.max_tokens,
                                     default_max_tokens or _DEFAULT_MAX_TOKENS, max_tokens_ceiling)
    system, messages = _messages(request, thinks=thinking is not None and thinking.get("type") != "disabled")
    body: dict[str, Any] = {"model": model, "messages": messages}
    if system:
        body["system"] = system
    body["max_tokens"] = max_tokens
    if thinking is not None:
        body["thinking"] = thinking
    if request.stop:
        body["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    for name in ("temperature", "top_p"):
        if raw.get(name) is not None:
            body[name] = raw[name]
    if raw.get("top_k") is not None:  # not OpenAI's, but Anthropic's; the model's rules checked it
        body["top_k"] = raw["top_k"]
    if request.stream:
        body["stream"] = True
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.tools:
        body["tools"] = [_tool(i, t) for i, t in enumerate(request.tools)]
    choice = _tool_choice(request)
    if choice is not None:
        body["tool_choice"] = choice
    if request.response_format is not None and request.response_format.type != "text":
        spec = request.response_format.json_schema
        schema = spec.schema if spec is not None and spec.schema is not None else _JSON_OBJECT
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    return body


def _reject_unsupported(request: ChatCompletionRequest, raw: dict[str, Any]) -> None:
    if request.n is not None and request.n != 1:
        raise _unsupported("n", "Anthropic models return one choice; send 'n' as 1 or leave it out")
    for name in _UNSUPPORTED:
        value = raw.get(name)
        if value not in (None, False, 0, 0.0, {}):
            raise _unsupported(name, f"Anthropic models do not support '{name}'")


def _unsupported(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message + ".", param=param, code="unsupported_parameter")


def _thinking(raw: dict[str, Any], cap: int | None, default: int,
              ceiling: int | None) -> tuple[dict[str, Any] | None, int]:
    """(Anthropic's ``thinking``, ``max_tokens``) for the client's ``thinking`` or ``reasoning_effort`` and cap."""
    given, effort = raw.get("thinking"), raw.get("reasoning_effort")

    def on_top(budget: int) -> int:
        """Without a client cap: the budget on top of the model's default, up to the model's ceiling."""
        return min(default + budget, ceiling or _LARGEST_OUTPUT)

    if given is not None:
        if effort is not None:
            raise InvalidRequestError("Send either 'reasoning_effort' or Anthropic's 'thinking', not both.",
                                      param="reasoning_effort", code="invalid_value")
        if not isinstance(given, dict):
            raise InvalidRequestError("'thinking' must be an object, like {\"type\": \"enabled\", "
                                      "\"budget_tokens\": 2048}.", param="thinking", code="invalid_type")
        budget = given.get("budget_tokens")
        if cap or given.get("type") != "enabled" or not isinstance(budget, int):
            return given, cap or default
        return given, on_top(budget)
    if effort is None:
        return None, cap or default
    budget = effort_budget(effort, "Anthropic", EFFORT_BUDGETS)
    if not budget:
        return {"type": "disabled"}, cap or default
    if cap:  # the client's cap covers both, as OpenAI's does: the thinking takes at most half of it
        max_tokens, room = cap, cap - max(_MIN_BUDGET, cap // 2)
    else:  # at the ceiling the budget gives way, not the answer
        max_tokens = on_top(budget)
        room = min(default, max_tokens // 2)
    budget = min(budget, max_tokens - room)
    if budget < _MIN_BUDGET or budget >= max_tokens:
        raise InvalidRequestError(f"'max_tokens' must be above {_MIN_BUDGET} for Anthropic models to think: it "
                                  f"covers the thinking too, and its budget is at least {_MIN_BUDGET} tokens.",
                                  param="max_tokens", code="invalid_value")
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def _messages(request: ChatCompletionRequest, thinks: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating messages)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for i, message in enumerate(request.messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage(content=content) | DeveloperMessage(content=content):
                system.extend({"type": "text", "text": text} for text in texts(content, at) if text)
            case UserMessage(content=content):
                add("user", _user_blocks(content, at))
            case AssistantMessage():
                blocks = _assistant_blocks(message, at, thinks)
                if blocks:
                    add("assistant", blocks)
            case ToolMessage(content=content, tool_call_id=tool_call_id):
                text = "".join(texts(content, at))
                add("user", [{"type": "tool_result", "tool_use_id": tool_call_id, "content": text}])
            case FunctionMessage():
                raise InvalidRequestError("Function-role messages are not supported with Anthropic models; send "
                                          "tool results as 'tool' messages.", param=f"{at}.role",
                                          code="unsupported_value")
    if not turns:
        raise InvalidRequestError("Anthropic models need at least one user or assistant message besides the "
                                  "system prompt.", param="messages", code="invalid_value")
    return system, turns


def _user_blocks(content: str | list[ContentPart], at: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [_user_part(part, f"{at}.content[{j}]") for j, part in enumerate(content)]


def _user_part(part: ContentPart, at: str) -> dict[str, Any]:
    if part.type == "text" and part.text is not None:
        return {"type": "text", "text": part.text}
    if part.type == "image_url" and part.image_url is not None:
        return {"type": "image", "source": _source(part.image_url.url, at)}
    if part.type == "file" and part.file is not None and isinstance(part.file.get("file_data"), str):
        media_type, data = data_uri(part.file["file_data"], at)
        return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    raise InvalidRequestError(f"Anthropic models do not take '{part.type}' content parts here.", param=at,
                              code="unsupported_value")


def _source(url: str, at: str) -> dict[str, Any]:
    if url.startswith("data:"):
        media_type, data = data_uri(url, at)
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise InvalidRequestError("An image URL must be http(s) or a base64 data: URI.", param=f"{at}.image_url.url",
                              code="invalid_value")


def _assistant_blocks(message: AssistantMessage, at: str, thinks: bool) -> list[dict[str, Any]]:
    blocks = [_thought(block, f"{at}.thinking_blocks[{j}]") for j, block in
              enumerate(message.thinking_blocks or [] if thinks else [])]
    blocks += [{"type": "text", "text": t} for t in texts(message.content, at) if t]
    for j, call in enumerate(message.tool_calls or []):
        name, arguments = tool_arguments(call, f"{at}.tool_calls[{j}]", "Anthropic")
        blocks.append({"type": "tool_use", "id": call.id, "name": name, "input": arguments})
    return blocks


def _thought(block: dict[str, Any], at: str) -> dict[str, Any]:
    """A thinking block sent back: ``thinking`` with its ``signature``, or ``redacted_thinking`` with its ``data``."""
    fields = _THINKING_BLOCKS.get(str(block.get("type")))
    if fields is None or not all(isinstance(block.get(name), str) for name in fields):
        raise InvalidRequestError("A thinking block is {\"type\": \"thinking\", \"thinking\", \"signature\"} or "
                                  "{\"type\": \"redacted_thinking\", \"data\"}, as the answer gave it.", param=at,
                                  code="invalid_value")
    return {"type": block["type"]} | {name: block[name] for name in fields}


def _tool(index: int, tool: Any) -> dict[str, Any]:
    function = offered_function(tool, index, "Anthropic")
    spec: dict[str, Any] = {"name": function.name,
                            "input_schema": function.parameters or {"type": "object", "properties": {}}}
    if function.description:
        spec["description"] = function.description
    if function.strict:
        spec["strict"] = True
    return spec


def _tool_choice(request: ChatCompletionRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    parallel_off = request.parallel_tool_calls is False and bool(request.tools)
    if choice is None:
        return {"type": "auto", "disable_parallel_tool_use": True} if parallel_off else None
    if isinstance(choice, ToolChoiceObject):
        if choice.type != "function" or choice.function is None:
            raise InvalidRequestError(f"tool_choice of type '{choice.type}' is not supported with Anthropic models.",
                                      param="tool_choice", code="unsupported_value")
        picked: dict[str, Any] = {"type": "tool", "name": choice.function.name}
    elif choice in ("auto", "required"):
        picked = {"type": "auto" if choice == "auto" else "any"}
    elif choice == "none":
        return {"type": "none"}
    else:
        raise InvalidRequestError(f"Invalid value for 'tool_choice': '{choice}'.", param="tool_choice",
                                  code="invalid_value")
    if parallel_off:
        picked["disable_parallel_tool_use"] = True
    return picked


# -- the response ------------------------------------------------------------------------------------------------


class AnthropicUsage(msgspec.Struct):
    """Usage as Anthropic reports it (``message_start`` carries the input side, ``message_delta`` the output)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class Block(msgspec.Struct):
    """A content block: ``text``, ``tool_use``, ``thinking``, ``redacted_thinking`` or a newer type (skipped)."""

    type: str
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


class Message(msgspec.Struct):
    """A Messages API response."""

    id: str
    model: str
    content: list[Block]
    stop_reason: str | None = None
    usage: AnthropicUsage | None = None


def thinking_block(kind: str, thinking: str | None, signature: str | None, data: str | None) -> dict[str, Any] | None:
    """A thinking or redacted thinking block as the client gets it in ``thinking_blocks`` (None for other kinds)."""
    if kind == "thinking" and thinking is not None and signature is not None:
        return {"type": "thinking", "thinking": thinking, "signature": signature}
    if kind == "redacted_thinking" and data is not None:
        return {"type": "redacted_thinking", "data": data}
    return None


def openai_usage(usage: AnthropicUsage) -> Usage:
    """OpenAI's usage: every prompt token in ``prompt_tokens``, cache reads also in ``cached_tokens``."""
    cached = usage.cache_read_input_tokens or 0
    prompt = (usage.input_tokens or 0) + (usage.cache_creation_input_tokens or 0) + cached
    completion = usage.output_tokens or 0
    details = PromptTokensDetails(cached_tokens=cached) if usage.cache_read_input_tokens is not None else None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                 prompt_tokens_details=details)


def chat_completion(message: Message) -> ChatCompletion:
    """The OpenAI chat completion for a Messages API response."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    thoughts: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "text" and block.text is not None:
            texts.append(block.text)
        elif block.type == "tool_use" and block.id is not None and block.name is not None:
            arguments = bytes(block.input).decode() if block.input else "{}"
            function = FunctionCall(name=block.name, arguments=arguments)
            calls.append(ToolCall(id=block.id, type="function", function=function))
        elif (kept := thinking_block(block.type, block.thinking, block.signature, block.data)) is not None:
            thoughts.append(kept)
    thought = "".join(block.get("thinking", "") for block in thoughts)
    reply = ChatCompletionMessage(content="".join(texts) if texts or not calls else None,
                                  reasoning_content=thought or msgspec.UNSET, thinking_blocks=thoughts or msgspec.UNSET,
                                  tool_calls=calls or None)
    finish = FINISH_REASONS.get(message.stop_reason or "end_turn", "stop")
    return ChatCompletion(id=message.id, created=int(time.time()), model=message.model,
                          choices=[Choice(index=0, message=reply, finish_reason=finish)],
                          usage=openai_usage(message.usage) if message.usage is not None else None)
