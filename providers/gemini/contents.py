"""OpenAI chat completions to Gemini's ``generateContent`` and back.

Request: system and developer messages become ``systemInstruction``; assistant turns are ``model`` turns whose tool
calls are ``functionCall`` parts; tool messages become ``functionResponse`` parts of a user turn, named after the
call they answer (OpenAI's tool messages carry only the call id); consecutive turns of one role merge; images go as
``inlineData`` (data: URIs) or ``fileData`` (URLs); sampling, ``stop``, ``n``, penalties and ``seed`` go into
``generationConfig``; ``response_format`` asks for ``application/json`` with the schema as ``responseJsonSchema``;
``tool_choice`` becomes ``functionCallingConfig`` (``required`` is ``ANY``, a named function is ``ANY`` limited to
it). Thinking, as Google's own OpenAI-compatible endpoint takes it: ``reasoning_effort`` becomes
``thinkingConfig.thinkingBudget`` (``core.translate.EFFORT_BUDGETS``; ``none`` is 0, thinking off where the model
allows it), and, unlike Google's endpoint, asks for the thought summaries too (``includeThoughts``), so that they
come back as ``reasoning_content`` as other providers' thinking does; ``google.thinking_config``
(``thinking_budget``, ``thinking_level``, ``include_thoughts``; also under ``extra_body``, as Google's examples nest
it) is sent as it is.

Gemini 3 models sign their function calls (``thoughtSignature``) and want the signature back with the call in the
history. OpenAI's wire has no place for it, so it rides in the tool call id (``<id>~<signature>``), which clients
send back unchanged.

Response: text parts are joined into ``content`` and thought parts (``thought: true``, the summaries Gemini sends
when ``thinkingConfig.includeThoughts`` asked for them) into ``reasoning_content``, ``functionCall`` parts become
``tool_calls``, ``finishReason`` becomes ``finish_reason`` (safety and similar blocks are ``content_filter``; a turn
that called functions is ``tool_calls``) and ``usageMetadata`` becomes usage, thinking tokens counted as reasoning
tokens.
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
    ToolCall,
    ToolChoiceObject,
    ToolMessage,
    UserMessage,
)
from core.openai.usage import CompletionTokensDetails, PromptTokensDetails, Usage
from core.translate import (
    answered_function,
    check_tool_choice,
    data_uri,
    effort_budget,
    offered_function,
    refuse_unserved,
    texts,
    tool_arguments,
)

__all__ = [
    "Candidate",
    "GenerateContentResponse",
    "Part",
    "build_request",
    "call_arguments",
    "chat_completion",
    "finish_reason",
    "openai_usage",
    "tool_call_id",
]

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "MALFORMED_FUNCTION_CALL": "stop", "OTHER": "stop",
           "FINISH_REASON_UNSPECIFIED": "stop"}
_FILTERED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
                       "LANGUAGE", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"})
_SIGNATURE = "~"
_MIME_BY_EXTENSION = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp",
                      "gif": "image/gif", "heic": "image/heic", "heif": "image/heif", "pdf": "application/pdf"}
_decode_object = msgspec.json.Decoder(dict[str, Any]).decode
_THINKING_FIELDS = {"thinking_budget": "thinkingBudget", "thinking_level": "thinkingLevel",
                    "include_thoughts": "includeThoughts"}


# -- the request -------------------------------------------------------------------------------------------------


def build_request(request: ChatCompletionRequest, raw: dict[str, Any]) -> dict[str, Any]:
    """The ``generateContent`` body for an OpenAI chat request (``raw``: the client's JSON after parameter rules)."""
    if request.logprobs or request.logit_bias:
        param = "logprobs" if request.logprobs else "logit_bias"
        raise InvalidRequestError(f"Gemini models do not support '{param}' through this gateway.", param=param,
                                  code="unsupported_parameter")
    refuse_unserved(raw, "Gemini")
    system, contents = _contents(request)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    config = _generation_config(request, raw)
    if config:
        body["generationConfig"] = config
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(i, t) for i, t in enumerate(request.tools)]}]
    calling = _calling_config(request)
    if calling is not None:
        body["toolConfig"] = {"functionCallingConfig": calling}
    return body


def _generation_config(request: ChatCompletionRequest, raw: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for ours, theirs in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
                         ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
                         ("seed", "seed")):
        if raw.get(ours) is not None:
            config[theirs] = raw[ours]
    max_tokens = request.max_completion_tokens or request.max_tokens
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    if request.stop:
        config["stopSequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    if request.n is not None and request.n != 1:
        config["candidateCount"] = request.n
    if request.response_format is not None and request.response_format.type != "text":
        config["responseMimeType"] = "application/json"
        spec = request.response_format.json_schema
        if spec is not None and spec.schema is not None:
            config["responseJsonSchema"] = spec.schema
    thinking = _thinking_config(raw)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(raw: dict[str, Any]) -> dict[str, Any] | None:
    """``thinkingConfig`` for the client's ``reasoning_effort`` or ``google.thinking_config``."""
    nested = raw.get("extra_body")
    google = raw.get("google") or (nested.get("google") if isinstance(nested, dict) else None)
    given = google.get("thinking_config") if isinstance(google, dict) else None
    effort = raw.get("reasoning_effort")
    if given is not None:
        if effort is not None:
            raise InvalidRequestError("Send either 'reasoning_effort' or 'google.thinking_config', not both.",
                                      param="reasoning_effort", code="invalid_value")
        if not isinstance(given, dict) or not set(given) <= set(_THINKING_FIELDS):
            names = ", ".join(f"'{name}'" for name in _THINKING_FIELDS)
            raise InvalidRequestError(f"'google.thinking_config' is an object of {names}.",
                                      param="google.thinking_config", code="invalid_value")
        return {_THINKING_FIELDS[name]: value for name, value in given.items()}
    if effort is None:
        return None
    budget = effort_budget(effort, "Gemini")
    return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}


def _contents(request: ChatCompletionRequest) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, for the function responses

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for i, message in enumerate(request.messages):
        at = f"messages[{i}]"
        match message:
            case SystemMessage(content=content) | DeveloperMessage(content=content):
                system.extend(text for text in texts(content, at) if text)
            case UserMessage(content=content):
                add("user", [_user_part(p, f"{at}.content[{j}]") for j, p in enumerate(_parts(content))])
            case AssistantMessage():
                parts = _model_parts(message, at, names)
                if parts:
                    add("model", parts)
            case ToolMessage(content=content, tool_call_id=call_id):
                name = answered_function(names, call_id, at)
                add("user", [{"functionResponse": {"name": name, "response": _result("".join(texts(content, at)))}}])
            case FunctionMessage(name=name, content=content):
                add("user", [{"functionResponse": {"name": name, "response": _result(content or "")}}])
    if not contents:
        raise InvalidRequestError("Gemini models need at least one user or assistant message besides the system "
                                  "prompt.", param="messages", code="invalid_value")
    return system, contents


def _parts(content: str | list[ContentPart]) -> list[ContentPart]:
    return [ContentPart(type="text", text=content)] if isinstance(content, str) else content


def _user_part(part: ContentPart, at: str) -> dict[str, Any]:
    if part.type == "text" and part.text is not None:
        return {"text": part.text}
    if part.type == "image_url" and part.image_url is not None:
        return _media(part.image_url.url, f"{at}.image_url.url")
    if part.type == "input_audio" and part.input_audio is not None:
        return {"inlineData": {"mimeType": f"audio/{part.input_audio.format}", "data": part.input_audio.data}}
    if part.type == "file" and part.file is not None and isinstance(part.file.get("file_data"), str):
        return _media(part.file["file_data"], f"{at}.file.file_data")
    raise InvalidRequestError(f"Gemini models do not take '{part.type}' content parts here.", param=at,
                              code="unsupported_value")


def _media(url: str, at: str) -> dict[str, Any]:
    if url.startswith("data:"):
        mime, data = data_uri(url, at)
        return {"inlineData": {"mimeType": mime, "data": data}}
    if url.startswith(("http://", "https://", "gs://")):
        extension = url.split("?", 1)[0].rpartition(".")[2].lower()
        return {"fileData": {"mimeType": _MIME_BY_EXTENSION.get(extension, "image/jpeg"), "fileUri": url}}
    raise InvalidRequestError("A media URL must be http(s), gs:// or a base64 data: URI.", param=at,
                              code="invalid_value")


def _model_parts(message: AssistantMessage, at: str, names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": text} for text in texts(message.content, at) if text]
    for j, call in enumerate(message.tool_calls or []):
        name, args = tool_arguments(call, f"{at}.tool_calls[{j}]", "Gemini")
        names[call.id] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        _, marked, signature = call.id.partition(_SIGNATURE)
        if marked and signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _result(text: str) -> dict[str, Any]:
    """A function response must be an object: a JSON object result as is, anything else under ``result``."""
    try:
        return _decode_object(text)
    except msgspec.DecodeError:
        return {"result": text}


def _declaration(index: int, tool: Any) -> dict[str, Any]:
    function = offered_function(tool, index, "Gemini")
    declaration: dict[str, Any] = {"name": function.name}
    if function.description:
        declaration["description"] = function.description
    if function.parameters:
        declaration["parametersJsonSchema"] = function.parameters
    return declaration


def _calling_config(request: ChatCompletionRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    check_tool_choice(request)  # Gemini would answer without calling anything
    if isinstance(choice, ToolChoiceObject):
        if choice.type != "function" or choice.function is None:
            raise InvalidRequestError(f"tool_choice of type '{choice.type}' is not supported with Gemini models.",
                                      param="tool_choice", code="unsupported_value")
        return {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}
    modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
    if choice not in modes:
        raise InvalidRequestError(f"Invalid value for 'tool_choice': '{choice}'.", param="tool_choice",
                                  code="invalid_value")
    return {"mode": modes[choice]}


# -- the response ------------------------------------------------------------------------------------------------


class FunctionCallPart(msgspec.Struct):
    name: str
    args: msgspec.Raw = msgspec.Raw()
    id: str | None = None


class Part(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool | None = None
    function_call: FunctionCallPart | None = None
    thought_signature: str | None = None


class Content(msgspec.Struct):
    parts: list[Part] = []


class Candidate(msgspec.Struct, rename="camel"):
    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0


class UsageMetadata(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int | None = None
    cached_content_token_count: int | None = None
    total_token_count: int | None = None


class PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None


class GenerateContentResponse(msgspec.Struct, rename="camel"):
    candidates: list[Candidate] = []
    usage_metadata: UsageMetadata | None = None
    prompt_feedback: PromptFeedback | None = None
    model_version: str | None = None
    response_id: str | None = None


def call_arguments(call: FunctionCallPart) -> str:
    """A call's ``args`` as compact JSON (Gemini pretty-prints whole responses, arguments included)."""
    return msgspec.json.encode(msgspec.json.decode(call.args)).decode() if call.args else "{}"


def tool_call_id(part: Part) -> str:
    """A new tool call id, carrying the call's thought signature when it has one."""
    call_id = part.function_call.id if part.function_call is not None and part.function_call.id else None
    base = call_id or "call_" + uuid.uuid4().hex[:24]
    return f"{base}{_SIGNATURE}{part.thought_signature}" if part.thought_signature else base


def finish_reason(reason: str | None, called: bool) -> str | None:
    """OpenAI's finish reason for Gemini's (``None`` while a stream goes on)."""
    if reason is None:
        return None
    if reason in _FILTERED:
        return "content_filter"
    if called and reason == "STOP":
        return "tool_calls"
    return _FINISH.get(reason, "stop")


def openai_usage(usage: UsageMetadata) -> Usage:
    """Thinking tokens are output tokens (billed so); cached prompt tokens are part of the prompt."""
    thoughts = usage.thoughts_token_count or 0
    completion = usage.candidates_token_count + thoughts
    return Usage(prompt_tokens=usage.prompt_token_count, completion_tokens=completion,
                 total_tokens=usage.prompt_token_count + completion,
                 prompt_tokens_details=(PromptTokensDetails(cached_tokens=usage.cached_content_token_count)
                                        if usage.cached_content_token_count is not None else None),
                 completion_tokens_details=(CompletionTokensDetails(reasoning_tokens=thoughts)
                                            if usage.thoughts_token_count is not None else None))


def _message(candidate: Candidate, one_call: bool) -> tuple[ChatCompletionMessage, bool]:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in candidate.content.parts if candidate.content is not None else []:
        if part.function_call is not None:
            if one_call and calls:
                continue
            arguments = call_arguments(part.function_call)
            function = FunctionCall(name=part.function_call.name, arguments=arguments)
            calls.append(ToolCall(id=tool_call_id(part), type="function", function=function))
        elif part.text is not None:
            (thoughts if part.thought else texts).append(part.text)
    content = "".join(texts) if texts or not calls else None
    return ChatCompletionMessage(content=content, reasoning_content="".join(thoughts) or msgspec.UNSET,
                                 tool_calls=calls or None), bool(calls)


def chat_completion(response: GenerateContentResponse, model: str, one_call: bool = False) -> ChatCompletion:
    """The OpenAI chat completion for a ``generateContent`` response (a blocked prompt is handled by the caller);
    ``one_call``: only the first function call of each candidate (``parallel_tool_calls: false``, which Gemini's
    API has no switch for)."""
    choices = []
    for candidate in sorted(response.candidates, key=lambda c: c.index):
        message, called = _message(candidate, one_call)
        choices.append(Choice(index=candidate.index, message=message,
                              finish_reason=finish_reason(candidate.finish_reason or "STOP", called)))
    return ChatCompletion(id=response.response_id or "chatcmpl-" + uuid.uuid4().hex, created=int(time.time()),
                          model=response.model_version or model, choices=choices,
                          usage=openai_usage(response.usage_metadata) if response.usage_metadata else None)
