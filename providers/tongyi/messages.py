"""OpenAI chat completions to DashScope's native text generation and back.

Request: ``{model, input: {messages}, parameters}``. Messages keep OpenAI's roles (developer becomes system), text
only: these are the text-generation models (Qwen's vision models take another route, not served here). Assistant
tool calls go as OpenAI writes them; a tool message gets the ``name`` of the function it answers besides its
``tool_call_id``. ``parameters`` always asks for ``result_format: message`` (and ``incremental_output`` when
streaming); ``max_completion_tokens`` is ``max_tokens``; DashScope's own knobs (``top_k``, ``repetition_penalty``,
``enable_thinking``, ``thinking_budget``, ``enable_search``) pass through from the client's JSON;
``reasoning_effort`` becomes ``enable_thinking`` with a ``thinking_budget`` (``core.translate.EFFORT_BUDGETS``;
``none`` turns thinking off). DashScope takes ``tool_choice`` as ``auto``, ``none`` or a named function, not
``required``; several choices and log probabilities are not offered here: those are 400s naming the parameter.

Response: ``output.choices[].message`` with ``content``, ``reasoning_content`` (the thinking, under the same name in
OpenAI's answer) and ``tool_calls``, ``finish_reason`` (``"null"`` while a stream goes on) and ``usage`` in
``input_tokens`` / ``output_tokens``.
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
    DeveloperMessage,
    FunctionCall,
    FunctionMessage,
    SystemMessage,
    ToolCall,
    ToolChoiceObject,
    ToolMessage,
    UserMessage,
)
from core.openai.usage import CompletionTokensDetails, PromptTokensDetails, Usage
from core.translate import answered_function, effort_budget, offered_function, refuse_unserved, texts, tool_arguments

__all__ = ["FINISH_REASONS", "DashScopeUsage", "Generation", "ToolCallPart", "build_request", "chat_completion",
           "finish_reason", "openai_usage"]

FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}
"""DashScope's ``finish_reason`` as OpenAI's; ``"null"`` (or ``null``) means not finished yet."""
_PASSED = ("temperature", "top_p", "top_k", "seed", "presence_penalty", "repetition_penalty", "enable_thinking",
           "thinking_budget", "enable_search", "parallel_tool_calls")
_UNSUPPORTED = ("logprobs", "top_logprobs", "logit_bias", "frequency_penalty")
_encode = msgspec.json.Encoder().encode


# -- the request -------------------------------------------------------------------------------------------------


def build_request(request: ChatCompletionRequest, raw: dict[str, Any], model: str) -> dict[str, Any]:
    """The generation body for an OpenAI chat request (``raw``: the client's JSON after parameter rules)."""
    _reject_unsupported(request, raw)
    refuse_unserved(raw, "Qwen")
    parameters: dict[str, Any] = {"result_format": "message"}
    if request.stream:
        parameters["incremental_output"] = True
    parameters.update((name, raw[name]) for name in _PASSED if raw.get(name) is not None)
    parameters.update(_thinking(raw))
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is not None:
        parameters["max_tokens"] = max_tokens
    if request.stop:
        parameters["stop"] = [request.stop] if isinstance(request.stop, str) else request.stop
    if request.tools:
        parameters.setdefault("parallel_tool_calls", True)  # OpenAI's default; DashScope's is false
        parameters["tools"] = [{"type": "function", "function": msgspec.to_builtins(offered_function(t, i, "Qwen"))}
                               for i, t in enumerate(request.tools)]
    choice = _tool_choice(request)
    if choice is not None:
        parameters["tool_choice"] = choice
    if request.response_format is not None and request.response_format.type != "text":
        parameters["response_format"] = msgspec.to_builtins(request.response_format)
    return {"model": model, "input": {"messages": _messages(request)}, "parameters": parameters}


def _thinking(raw: dict[str, Any]) -> dict[str, Any]:
    """``enable_thinking`` and ``thinking_budget`` for the client's ``reasoning_effort`` (none without one)."""
    effort = raw.get("reasoning_effort")
    if effort is None:
        return {}
    if raw.get("enable_thinking") is not None or raw.get("thinking_budget") is not None:
        raise InvalidRequestError("Send either 'reasoning_effort' or DashScope's 'enable_thinking' and "
                                  "'thinking_budget', not both.", param="reasoning_effort", code="invalid_value")
    budget = effort_budget(effort, "Qwen")
    return {"enable_thinking": True, "thinking_budget": budget} if budget else {"enable_thinking": False}


def _reject_unsupported(request: ChatCompletionRequest, raw: dict[str, Any]) -> None:
    if request.n is not None and request.n != 1:
        raise _unsupported("n", "Qwen models return one choice through this gateway; send 'n' as 1 or leave it out")
    for name in _UNSUPPORTED:
        if raw.get(name) not in (None, False, 0, 0.0, {}):
            raise _unsupported(name, f"DashScope's Qwen models do not take '{name}' here")


def _unsupported(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message + ".", param=param, code="unsupported_parameter")


def _messages(request: ChatCompletionRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the tool messages
    for i, message in enumerate(request.messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage(content=content) | DeveloperMessage(content=content):
                out.append({"role": "system", "content": "".join(texts(content, at))})
            case UserMessage(content=content):
                out.append({"role": "user", "content": "".join(texts(content, at))})
            case AssistantMessage():
                out.append(_assistant(message, at, names))
            case ToolMessage(content=content, tool_call_id=call_id):
                out.append({"role": "tool", "content": "".join(texts(content, at)), "tool_call_id": call_id,
                            "name": answered_function(names, call_id, at)})
            case FunctionMessage():
                raise InvalidRequestError("Function-role messages are not supported with Qwen models; send tool "
                                          "results as 'tool' messages.", param=f"{at}.role", code="unsupported_value")
    if not any(m["role"] != "system" for m in out):
        raise InvalidRequestError("Qwen models need at least one user message besides the system prompt.",
                                  param="messages", code="invalid_value")
    return out


def _assistant(message: AssistantMessage, at: str, names: dict[str, str]) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": "assistant", "content": "".join(texts(message.content, at))}
    calls = []
    for j, call in enumerate(message.tool_calls or []):
        name, arguments = tool_arguments(call, f"{at}.tool_calls[{j}]", "Qwen")
        names[call.id] = name
        calls.append({"id": call.id, "type": "function",
                      "function": {"name": name, "arguments": _encode(arguments).decode()}})
    if calls:
        turn["tool_calls"] = calls
    return turn


def _tool_choice(request: ChatCompletionRequest) -> str | dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None or choice in ("auto", "none"):
        return choice
    if isinstance(choice, ToolChoiceObject) and choice.type == "function" and choice.function is not None:
        return {"type": "function", "function": {"name": choice.function.name}}
    shown = choice if isinstance(choice, str) else choice.type
    raise InvalidRequestError(f"Qwen models take tool_choice 'auto', 'none' or a named function, not '{shown}'.",
                              param="tool_choice", code="unsupported_value")


# -- the response ------------------------------------------------------------------------------------------------


class FunctionPart(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCallPart(msgspec.Struct):
    """A tool call, whole or (streamed) a fragment: later fragments of a call have an empty ``id``."""

    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionPart | None = None


class Message(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallPart] | None = None


class GenerationChoice(msgspec.Struct):
    message: Message | None = None
    finish_reason: str | None = None


class Output(msgspec.Struct):
    choices: list[GenerationChoice] = []


class ReasoningTokens(msgspec.Struct):
    reasoning_tokens: int | None = None


class CachedTokens(msgspec.Struct):
    cached_tokens: int | None = None


class DashScopeUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    prompt_tokens_details: CachedTokens | None = None
    output_tokens_details: ReasoningTokens | None = None


class Generation(msgspec.Struct):
    """A generation response, or one event of a stream (``incremental_output``: each holds what is new)."""

    output: Output | None = None
    usage: DashScopeUsage | None = None
    request_id: str = ""


def finish_reason(reason: str | None) -> str | None:
    """OpenAI's finish reason for DashScope's (``None`` while a stream goes on)."""
    if reason is None or reason == "null":
        return None
    return FINISH_REASONS.get(reason, "stop")


def openai_usage(usage: DashScopeUsage) -> Usage:
    """Input and output tokens as prompt and completion tokens; cache hits as ``cached_tokens``, thinking (part of
    the output) as ``reasoning_tokens``."""
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details is not None else None
    thought = usage.output_tokens_details.reasoning_tokens if usage.output_tokens_details is not None else None
    return Usage(prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens,
                 total_tokens=usage.input_tokens + usage.output_tokens,
                 prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached is not None else None,
                 completion_tokens_details=(CompletionTokensDetails(reasoning_tokens=thought) if thought is not None
                                            else None))


def chat_completion(answer: Generation, model: str) -> ChatCompletion:
    """The OpenAI chat completion for a whole generation response."""
    choices = []
    for index, choice in enumerate(answer.output.choices if answer.output is not None else []):
        message = choice.message or Message()
        calls = [ToolCall(id=c.id or f"call_{answer.request_id}_{i}", type="function",
                          function=FunctionCall(name=c.function.name or "", arguments=c.function.arguments or "{}"))
                 for i, c in enumerate(message.tool_calls or []) if c.function is not None]
        content = message.content if message.content or not calls else None
        reply = ChatCompletionMessage(content=content, reasoning_content=message.reasoning_content or msgspec.UNSET,
                                      tool_calls=calls or None)
        choices.append(Choice(index=index, message=reply, finish_reason=finish_reason(choice.finish_reason) or "stop"))
    return ChatCompletion(id="chatcmpl-" + answer.request_id, created=int(time.time()), model=model, choices=choices,
                          usage=openai_usage(answer.usage) if answer.usage is not None else None)
