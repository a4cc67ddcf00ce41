"""OpenAI chat completions to Ollama's ``POST /api/chat`` and back.

Request: messages keep their order and roles (developer messages are ``system`` ones); a user message's text parts
are joined into ``content`` and its images, which Ollama takes as bare base64 only, go in ``images`` (a data: URI is
unwrapped; an http(s) URL is a 400 naming it). An assistant's tool calls carry their arguments as an object; a tool
result is a ``tool`` message naming the function in ``tool_name``, found from the call id of the earlier assistant
turn (OpenAI's tool messages carry only the id). Sampling parameters, ``stop``, ``seed`` and ``max_tokens``
(``num_predict``) go into ``options``; ``response_format`` becomes ``format`` (``"json"`` for JSON mode, the schema
itself for structured output). ``stream`` is always sent, since Ollama streams unless told not to. Ollama's own
``options``, ``keep_alive`` and ``think``, sent by a client as extra fields, pass through; ``reasoning_effort``
becomes ``think``. What Ollama cannot do (several choices, log probabilities, forcing a tool call) is a 400 naming
the parameter; ``tool_choice: none`` offers no tools; ``parallel_tool_calls`` is Ollama's model's own choice and is
not sent.

Response: ``message.content`` is the content and its ``thinking`` the ``reasoning_content``, tool calls get their
arguments as a JSON string and an id (Ollama's, or a new ``call_<hex>`` when an older Ollama sends none),
``done_reason`` becomes ``finish_reason`` (``tool_calls`` when the model called tools) and
``prompt_eval_count``/``eval_count`` become usage.
"""

from __future__ import annotations

import time
import uuid
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
from core.openai.usage import Usage
from core.translate import answered_function, data_uri, offered_function, refuse_unserved, texts, tool_arguments

__all__ = ["ChatResponse", "OllamaToolCall", "arguments_json", "build_request", "chat_completion", "finish_reason",
           "openai_usage", "tool_call_id"]

_FINISH = {"stop": "stop", "length": "length"}
"""Ollama's ``done_reason`` as OpenAI's ``finish_reason``; ``load``, ``unload`` and newer reasons are ``stop``."""
_OPTIONS = ("temperature", "top_p", "top_k", "seed", "presence_penalty", "frequency_penalty")
_PASSED = ("keep_alive", "think")
_THINK_LEVELS = {"low": "low", "medium": "medium", "high": "high", "none": False, "minimal": False}


# -- the request -------------------------------------------------------------------------------------------------


def build_request(request: ChatCompletionRequest, raw: dict[str, Any], model: str,
                  context_size: int | None = None) -> dict[str, Any]:
    """The ``/api/chat`` body for an OpenAI chat request (``raw``: the client's JSON after parameter rules);
    ``context_size``, the model's window as configured, becomes ``num_ctx`` unless the client set one."""
    _reject_unsupported(request)
    refuse_unserved(raw, "Ollama")
    body: dict[str, Any] = {"model": model, "messages": _messages(request), "stream": bool(request.stream)}
    if request.tools and request.tool_choice != "none":
        body["tools"] = [_tool(i, tool) for i, tool in enumerate(request.tools)]
    options = _options(request, raw, context_size)
    if options:
        body["options"] = options
    if request.response_format is not None and request.response_format.type != "text":
        spec = request.response_format.json_schema
        body["format"] = spec.schema if spec is not None and spec.schema is not None else "json"
    for name in _PASSED:
        if raw.get(name) is not None:
            body[name] = raw[name]
    effort = raw.get("reasoning_effort")
    if "think" not in body and isinstance(effort, str) and effort in _THINK_LEVELS:
        body["think"] = _THINK_LEVELS[effort]
    return body


def _reject_unsupported(request: ChatCompletionRequest) -> None:
    if request.n is not None and request.n != 1:
        raise _unsupported("n", "Ollama models return one choice; send 'n' as 1 or leave it out")
    for name, value in (("logprobs", request.logprobs), ("top_logprobs", request.top_logprobs),
                        ("logit_bias", request.logit_bias)):
        if value:
            raise _unsupported(name, f"Ollama models do not support '{name}' through this gateway")
    choice = request.tool_choice
    if isinstance(choice, ToolChoiceObject) or choice == "required":
        raise InvalidRequestError("Ollama cannot force a tool call; send tool_choice 'auto' or 'none'.",
                                  param="tool_choice", code="unsupported_value")
    if choice not in (None, "auto", "none"):
        raise InvalidRequestError(f"Invalid value for 'tool_choice': '{choice}'.", param="tool_choice",
                                  code="invalid_value")


def _unsupported(param: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(message + ".", param=param, code="unsupported_parameter")


def _options(request: ChatCompletionRequest, raw: dict[str, Any], context_size: int | None) -> dict[str, Any]:
    given = raw.get("options")
    options: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    for name in _OPTIONS:
        if raw.get(name) is not None:
            options[name] = raw[name]
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    if request.stop:
        options["stop"] = [request.stop] if isinstance(request.stop, str) else request.stop
    if context_size and "num_ctx" not in options:
        options["num_ctx"] = context_size
    return options


def _messages(request: ChatCompletionRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the tool results
    for i, message in enumerate(request.messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage(content=content) | DeveloperMessage(content=content):
                out.append({"role": "system", "content": "\n".join(texts(content, at))})
            case UserMessage(content=content):
                out.append(_user(content, at))
            case AssistantMessage():
                out.append(_assistant(message, at, names))
            case ToolMessage(content=content, tool_call_id=call_id):
                out.append({"role": "tool", "content": "".join(texts(content, at)),
                            "tool_name": answered_function(names, call_id, at)})
            case FunctionMessage(name=name, content=content):
                out.append({"role": "tool", "content": content or "", "tool_name": name})
    return out


def _user(content: str | list[ContentPart], at: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "user", "content": content}
    parts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        where = f"{at}.content[{j}]"
        if part.type == "text" and part.text is not None:
            parts.append(part.text)
        elif part.type == "image_url" and part.image_url is not None:
            images.append(_image(part.image_url.url, f"{where}.image_url.url"))
        else:
            raise InvalidRequestError(f"Ollama models do not take '{part.type}' content parts.", param=where,
                                      code="unsupported_value")
    message: dict[str, Any] = {"role": "user", "content": "\n".join(parts)}
    if images:
        message["images"] = images
    return message


def _image(url: str, at: str) -> str:
    if url.startswith("data:"):
        return data_uri(url, at)[1]
    raise InvalidRequestError("Ollama takes images as base64 only: send a data:<media type>;base64,<data> URI, not a "
                              "link.", param=at, code="unsupported_value")


def _assistant(message: AssistantMessage, at: str, names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts(message.content, at))}
    calls = []
    for j, call in enumerate(message.tool_calls or []):
        name, arguments = tool_arguments(call, f"{at}.tool_calls[{j}]", "Ollama")
        names[call.id] = name
        calls.append({"function": {"name": name, "arguments": arguments}})
    if calls:
        out["tool_calls"] = calls
    return out


def _tool(index: int, tool: Tool) -> dict[str, Any]:
    function = offered_function(tool, index, "Ollama")
    spec: dict[str, Any] = {"name": function.name,
                            "parameters": function.parameters or {"type": "object", "properties": {}}}
    if function.description:
        spec["description"] = function.description
    return {"type": "function", "function": spec}


# -- the response ------------------------------------------------------------------------------------------------


class OllamaFunction(msgspec.Struct):
    name: str
    arguments: msgspec.Raw = msgspec.Raw()


class OllamaToolCall(msgspec.Struct):
    """A tool call; Ollama sends the arguments as an object, and an id only since 0.12."""

    function: OllamaFunction
    id: str | None = None


class OllamaMessage(msgspec.Struct):
    role: str = "assistant"
    content: str = ""
    thinking: str | None = None
    tool_calls: list[OllamaToolCall] | None = None


class ChatResponse(msgspec.Struct):
    """One ``/api/chat`` object: the whole answer, or a line of a stream (``error`` only on a failed stream)."""

    model: str = ""
    message: OllamaMessage | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    error: str | None = None


def tool_call_id(call: OllamaToolCall) -> str:
    """Ollama's id of the call, or a new one when an older Ollama sent none."""
    return call.id or "call_" + uuid.uuid4().hex[:24]


def arguments_json(call: OllamaToolCall) -> str:
    """The call's arguments object as OpenAI's JSON string."""
    return bytes(call.function.arguments).decode() if call.function.arguments else "{}"


def _tool_call(call: OllamaToolCall) -> ToolCall:
    function = FunctionCall(name=call.function.name, arguments=arguments_json(call))
    return ToolCall(id=tool_call_id(call), type="function", function=function)


def finish_reason(reason: str | None, called: bool) -> str:
    """OpenAI's finish reason for Ollama's ``done_reason``."""
    return "tool_calls" if called else _FINISH.get(reason or "stop", "stop")


def openai_usage(response: ChatResponse) -> Usage:
    """Ollama leaves a count out when it is zero (a prompt read from its cache)."""
    prompt, completion = response.prompt_eval_count or 0, response.eval_count or 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def chat_completion(response: ChatResponse, model: str) -> ChatCompletion:
    """The OpenAI chat completion for a whole ``/api/chat`` answer."""
    message = response.message or OllamaMessage()
    calls = [_tool_call(call) for call in message.tool_calls or []]
    reply = ChatCompletionMessage(content=message.content if message.content or not calls else None,
                                  reasoning_content=message.thinking or msgspec.UNSET, tool_calls=calls or None)
    return ChatCompletion(id="chatcmpl-" + uuid.uuid4().hex, created=int(time.time()), model=response.model or model,
                          choices=[Choice(index=0, message=reply, finish_reason=finish_reason(response.done_reason,
                                                                                              bool(calls)))],
                          usage=openai_usage(response))
