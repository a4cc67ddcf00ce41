"""OpenAI chat completions to Cohere's v2 Chat API (``POST /v2/chat``) and back.

Request: messages keep their order and roles (developer messages are system messages); an assistant turn that called
tools sends its text as the ``tool_plan`` (Cohere's place for what the model says before calling) and its calls with
their ids; tool results keep their ``tool_call_id``; images go as ``image_url`` parts, only to a model whose
catalogue entry has the ``vision`` feature (a 400 naming the part otherwise). ``top_p`` and ``top_k`` are Cohere's
``p`` and ``k``, ``stop`` its ``stop_sequences``; ``response_format`` is ``json_object``, carrying a JSON schema as
``json_schema``. ``tool_choice`` ``required`` and ``none`` are ``REQUIRED`` and ``NONE``; Cohere cannot name one
function, so a named choice is ``REQUIRED`` with only that function offered. An offered tool marked ``strict`` turns
on ``strict_tools``, Cohere's one switch for the request (a ``strict`` field in a tool is a 422 there). What Cohere
cannot do here (several choices, log probabilities, logit bias) is a 400 naming the parameter;
``parallel_tool_calls`` and ``user`` have no Cohere counterpart and are ignored. Cohere's own ``safety_mode``,
``priority`` and ``thinking`` pass through as the client sends them (extra body fields); ``thinking`` (``{"type":
"enabled" | "disabled", "token_budget": N}``) turns a reasoning model's thinking off or bounds it: Cohere's
reasoning models think unless told not to. ``reasoning_effort`` becomes that ``thinking``
(``core.translate.EFFORT_BUDGETS`` as its ``token_budget``; ``none`` turns thinking off).

Response: ``content`` is the tool plan followed by the text parts (a reply that calls tools has only the plan: the
client sees why, and sends it back as the next turn's plan); the thinking parts, joined, are ``reasoning_content``
(left out when the model did not think); citations are dropped; tool calls keep their ids; ``COMPLETE`` and
``STOP_SEQUENCE`` finish with ``stop``, ``MAX_TOKENS`` with ``length``, ``TOOL_CALL`` with ``tool_calls``, while
``ERROR`` and ``TIMEOUT`` are errors (:data:`FAILED`, raised by the provider). Usage is ``usage.tokens`` (what the
model read and wrote), ``billed_units`` when tokens are missing; cache hits are ``cached_tokens``.
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
    Tool,
    ToolCall,
    ToolChoiceObject,
    ToolMessage,
    UserMessage,
)
from core.openai.usage import PromptTokensDetails, Usage
from core.translate import (
    check_tool_choice,
    data_uri,
    effort_budget,
    offered_function,
    refuse_unserved,
    texts,
    tool_arguments,
)

__all__ = ["FAILED", "FINISH_REASONS", "ChatReply", "CohereUsage", "build_request", "chat_completion",
           "openai_usage"]

FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
"""Cohere's ``finish_reason`` as OpenAI's; an unknown one passes as ``stop``."""
FAILED = frozenset({"ERROR", "TIMEOUT"})
"""Finish reasons that mean the answer is not whole: the client gets an error, not a partial answer."""

_SAMPLING = (("temperature", "temperature"), ("top_p", "p"), ("top_k", "k"), ("seed", "seed"),
             ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"))
_NATIVE = ("safety_mode", "priority", "thinking")
_UNSUPPORTED = ("logprobs", "top_logprobs", "logit_bias")
_NO_PARAMETERS = {"type": "object", "properties": {}}


# -- the request -------------------------------------------------------------------------------------------------


def build_request(request: ChatCompletionRequest, raw: dict[str, Any], model: str, vision: bool) -> dict[str, Any]:
    """The ``/v2/chat`` body for an OpenAI chat request (``raw``: the client's JSON after parameter rules)."""
    _reject_unsupported(request, raw)
    refuse_unserved(raw, "Cohere")
    body: dict[str, Any] = {"model": model, "messages": _messages(request, vision)}
    if request.stream:
        body["stream"] = True
    tools = [_tool(i, tool) for i, tool in enumerate(request.tools or [])]
    choice, tools = _tool_choice(request, tools)
    if tools:
        body["tools"] = tools
        strict = {tool.function.name for tool in request.tools or [] if tool.function and tool.function.strict}
        if any(tool["function"]["name"] in strict for tool in tools):
            body["strict_tools"] = True
    if choice is not None:
        body["tool_choice"] = choice
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if request.stop:
        body["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    for ours, theirs in _SAMPLING:
        if raw.get(ours) is not None:
            body[theirs] = raw[ours]
    if request.response_format is not None and request.response_format.type != "text":
        spec = request.response_format.json_schema
        body["response_format"] = {"type": "json_object"}
        if spec is not None and spec.schema is not None:
            body["response_format"]["json_schema"] = spec.schema
    body.update({name: raw[name] for name in _NATIVE if raw.get(name) is not None})
    thinking = _thinking(raw)
    if thinking is not None:
        body["thinking"] = thinking
    return body


def _thinking(raw: dict[str, Any]) -> dict[str, Any] | None:
    """Cohere's ``thinking`` for the client's ``reasoning_effort`` (None without one)."""
    effort = raw.get("reasoning_effort")
    if effort is None:
        return None
    if raw.get("thinking") is not None:
        raise InvalidRequestError("Send either 'reasoning_effort' or Cohere's 'thinking', not both.",
                                  param="reasoning_effort", code="invalid_value")
    budget = effort_budget(effort, "Cohere")
    return {"type": "enabled", "token_budget": budget} if budget else {"type": "disabled"}


def _reject_unsupported(request: ChatCompletionRequest, raw: dict[str, Any]) -> None:
    if request.n is not None and request.n != 1:
        raise _unsupported("n", "Cohere models return one choice; send 'n' as 1 or leave it out")
    for name in _UNSUPPORTED:
        if raw.get(name) not in (None, False, 0, {}):
            raise _unsupported(name, f"'{name}' is not supported with Cohere models")


def _unsupported(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message + ".", param=param, code="unsupported_parameter")


def _messages(request: ChatCompletionRequest, vision: bool) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(request.messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage(content=content) | DeveloperMessage(content=content):
                turns.append({"role": "system", "content": _text(content, at)})
            case UserMessage(content=content):
                parts = content if isinstance(content, str) else [
                    _user_part(part, f"{at}.content[{j}]", vision) for j, part in enumerate(content)]
                turns.append({"role": "user", "content": parts})
            case AssistantMessage():
                turns.append(_assistant(message, at))
            case ToolMessage(content=content, tool_call_id=call_id):
                turns.append({"role": "tool", "tool_call_id": call_id, "content": "".join(texts(content, at))})
            case FunctionMessage():
                raise InvalidRequestError("Function-role messages are not supported with Cohere models; send tool "
                                          "results as 'tool' messages.", param=f"{at}.role", code="unsupported_value")
    return turns


def _text(content: str | list[ContentPart], at: str) -> str | list[dict[str, Any]]:
    """Text-only content as Cohere takes it: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    return [{"type": "text", "text": text} for text in texts(content, at)]


def _user_part(part: ContentPart, at: str, vision: bool) -> dict[str, Any]:
    if part.type == "text" and part.text is not None:
        return {"type": "text", "text": part.text}
    if part.type == "image_url" and part.image_url is not None:
        if not vision:
            raise InvalidRequestError("This Cohere model does not take images; use a model with vision.", param=at,
                                      code="unsupported_value")
        url = part.image_url.url
        if url.startswith("data:"):
            data_uri(url, f"{at}.image_url.url")
        elif not url.startswith(("http://", "https://")):
            raise InvalidRequestError("An image URL must be http(s) or a base64 data: URI.",
                                      param=f"{at}.image_url.url", code="invalid_value")
        image = {"url": url} if part.image_url.detail is None else {"url": url, "detail": part.image_url.detail}
        return {"type": "image_url", "image_url": image}
    raise InvalidRequestError(f"Cohere models do not take '{part.type}' content parts.", param=at,
                              code="unsupported_value")


def _assistant(message: AssistantMessage, at: str) -> dict[str, Any]:
    text = "".join(texts(message.content, at))
    calls = []
    for j, call in enumerate(message.tool_calls or []):
        name, _ = tool_arguments(call, f"{at}.tool_calls[{j}]", "Cohere")  # checks the arguments are an object
        arguments = call.function.arguments if call.function is not None and call.function.arguments else "{}"
        calls.append({"id": call.id, "type": "function", "function": {"name": name, "arguments": arguments}})
    if not calls:
        return {"role": "assistant", "content": text}
    turn: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if text:
        turn["tool_plan"] = text
    return turn


def _tool(index: int, tool: Tool) -> dict[str, Any]:
    offered = offered_function(tool, index, "Cohere")
    function: dict[str, Any] = {"name": offered.name, "parameters": offered.parameters or _NO_PARAMETERS}
    if offered.description:
        function["description"] = offered.description
    return {"type": "function", "function": function}


def _tool_choice(request: ChatCompletionRequest,
                 tools: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(Cohere's ``tool_choice``, the tools to offer)."""
    choice = request.tool_choice
    if choice is None or choice == "auto" or (choice == "none" and not tools):
        return None, tools
    check_tool_choice(request)
    if choice == "none":
        return "NONE", tools
    if isinstance(choice, ToolChoiceObject):
        if choice.type != "function" or choice.function is None:
            raise InvalidRequestError(f"tool_choice of type '{choice.type}' is not supported with Cohere models.",
                                      param="tool_choice", code="unsupported_value")
        name = choice.function.name
        return "REQUIRED", [tool for tool in tools if tool["function"]["name"] == name]
    if choice != "required":
        raise InvalidRequestError(f"Invalid value for 'tool_choice': '{choice}'.", param="tool_choice",
                                  code="invalid_value")
    return "REQUIRED", tools


# -- the response ------------------------------------------------------------------------------------------------


class _Counts(msgspec.Struct):
    input_tokens: float | None = None  # Cohere's schema says number; counts are whole
    output_tokens: float | None = None


class CohereUsage(msgspec.Struct):
    """``usage`` of a reply or of a stream's ``message-end``: billed units, and all the tokens."""

    billed_units: _Counts | None = None
    tokens: _Counts | None = None
    cached_tokens: float | None = None


class Function(msgspec.Struct):
    """A tool call's function: whole in a reply, the name and then pieces of the arguments in a stream."""

    name: str | None = None
    arguments: str | None = None


class CallWire(msgspec.Struct):
    """A tool call as Cohere sends it (its ``type`` is always ``function``)."""

    id: str | None = None
    function: Function | None = None


class _Part(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None


class _Message(msgspec.Struct):
    content: list[_Part] | None = None
    tool_plan: str | None = None
    tool_calls: list[CallWire] | None = None


class ChatReply(msgspec.Struct):
    """A ``/v2/chat`` response."""

    id: str
    message: _Message
    finish_reason: str | None = None
    usage: CohereUsage | None = None


def openai_usage(usage: CohereUsage) -> Usage:
    """OpenAI's usage from ``tokens``, or from ``billed_units`` when a reply has no token counts."""
    counts = usage.tokens if usage.tokens is not None and usage.tokens.input_tokens is not None else None
    counts = counts or usage.billed_units or _Counts()
    prompt, completion = int(counts.input_tokens or 0), int(counts.output_tokens or 0)
    details = PromptTokensDetails(cached_tokens=int(usage.cached_tokens)) if usage.cached_tokens is not None else None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
                 prompt_tokens_details=details)


def chat_completion(reply: ChatReply, model: str) -> ChatCompletion:
    """The OpenAI chat completion for a finished ``/v2/chat`` response (one not in :data:`FAILED`)."""
    message = reply.message
    parts = message.content or []
    text = (message.tool_plan or "") + "".join(p.text for p in parts if p.type == "text" and p.text)
    thinking = "".join(p.thinking for p in parts if p.type == "thinking" and p.thinking)
    calls = [ToolCall(id=call.id or "", type="function",
                      function=FunctionCall(name=call.function.name or "", arguments=call.function.arguments or "{}"))
             for call in message.tool_calls or [] if call.function is not None]
    answer = ChatCompletionMessage(content=text if text or not calls else None,
                                   reasoning_content=thinking or msgspec.UNSET, tool_calls=calls or None)
    finish = FINISH_REASONS.get(reply.finish_reason or "COMPLETE", "stop")
    return ChatCompletion(id=reply.id, created=int(time.time()), model=model,
                          choices=[Choice(index=0, message=answer, finish_reason=finish)],
                          usage=openai_usage(reply.usage) if reply.usage is not None else None)
