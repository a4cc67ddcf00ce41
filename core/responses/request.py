"""A Responses request as the chat completion request that asks the same of a chat model (:func:`chat_request`)."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError
from ..openai.responses import ResponseRequest, TextConfig
from ..translate import check_choice
from .answer import read_blocks
from .names import InputNames

__all__ = ["chat_request"]

JSON = dict[str, Any]

_STATELESS = (
    ("previous_response_id", "the gateway keeps no responses: send the whole conversation as 'input'"),
    ("conversation", "the gateway keeps no conversations: send the whole conversation as 'input'"),
    ("prompt", "server-side prompt templates live on OpenAI's servers: send 'instructions' and 'input'"),
)
_RESPONSES_ONLY = frozenset({
    *ResponseRequest.__struct_fields__, "stream_options", "max_tool_calls", "prompt_cache_retention",
    "prompt_cache_options", "context_management", "moderation", "image", "access_programs", "background_options",
    "messages", "n", "logprobs", "functions", "function_call"})
"""The Responses API's own request fields (translated, refused or dropped), and the chat API's that would ask for
an answer a response cannot hold (``n`` choices, token logprobs) or conflict with the translation: never passed
on."""
_CHOICES = ("none", "auto", "required")
_FORMATS = ("text", "json_object", "json_schema")
_DETAILS = ("auto", "low", "high")


def chat_request(request: ResponseRequest, raw: JSON) -> tuple[JSON, InputNames]:
    """The chat completion request (raw JSON) that asks the same of a chat model, and the names its parameters
    have in the client's request; a 400 naming the parameter for what no chat model can be asked. Fields of
    neither API (a provider's own, such as ``top_k``) go on as they came, as on the chat route."""
    _refuse_stateful(request)
    chat: JSON = {name: value for name, value in raw.items() if name not in _RESPONSES_ONLY}
    history = _messages(request)
    chat.update(model=request.model, messages=history.messages)
    tools, choice = _tools(request)
    if tools:  # a tool choice without tools is a 400 on OpenAI's chat API, and means nothing
        chat["tools"] = tools
        if choice is not None:
            chat["tool_choice"] = choice
        if request.parallel_tool_calls is not None:
            chat["parallel_tool_calls"] = request.parallel_tool_calls
    optional = {
        "max_completion_tokens": request.max_output_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "response_format": _response_format(request.text),
        "verbosity": (request.text.verbosity if request.text else None) or request.verbosity,
        "reasoning_effort": request.reasoning.effort if request.reasoning else None,
        "user": request.user or request.safety_identifier,
        "prompt_cache_key": request.prompt_cache_key,
        "service_tier": request.service_tier,
    }
    chat.update((name, value) for name, value in optional.items() if value is not None)
    if request.stream:  # the usage is read from the stream (each provider says whether it may be asked for)
        chat["stream"] = True
    kept = {tool["function"]["name"] for tool in tools}
    offered = [i for i, tool in enumerate(request.tools or ()) if tool.get("name") in kept]
    translated = {"max_completion_tokens"} if request.max_output_tokens is not None else set()
    translated |= {"response_format"} if request.text and request.text.format else set()
    translated |= {"reasoning_effort"} if request.reasoning and request.reasoning.effort else set()
    return chat, InputNames(history.origins, history.call_origins, offered, translated)


def _refuse_stateful(request: ResponseRequest) -> None:
    for name, why in _STATELESS:
        if getattr(request, name) is not None:
            raise InvalidRequestError(f"'{name}' is not supported: {why}.", param=name, code="unsupported_parameter")
    if request.background:
        raise InvalidRequestError("'background' is not supported: the gateway keeps no responses to poll; stream "
                                  "the response instead.", param="background", code="unsupported_parameter")
    if request.truncation not in (None, "disabled"):
        raise InvalidRequestError("Only 'disabled' truncation is supported: the gateway does not drop input items.",
                                  param="truncation", code="unsupported_value")
    if request.top_logprobs:
        raise InvalidRequestError("'top_logprobs' is not supported on /v1/responses; use /v1/chat/completions.",
                                  param="top_logprobs", code="unsupported_parameter")


class _History:
    """Chat messages built item by item. The items an answer gave between two messages of the client (its message,
    function calls, reasoning) make one assistant turn: the calls join the turn's message (or start one), and the
    thinking goes on it; thinking no answer followed is dropped with its turn."""

    def __init__(self) -> None:
        self.messages: list[JSON] = []
        self.origins: list[tuple[str, str]] = []
        """Where each message came from: the input item's path and kind (``message``, ``output``, ``call``)."""
        self.call_origins: dict[tuple[int, int], str] = {}
        """The input item of each tool call, by (message, call) index."""
        self._turn: JSON | None = None
        self._turn_index = 0
        self._thinking: list[str] = []
        self._blocks: list[Any] = []

    def add(self, message: JSON, at: str, kind: str = "message") -> None:
        """A message of the client's (user, system, developer) or a function call's output: the turn ends."""
        self._turn, self._thinking, self._blocks = None, [], []
        self._append(message, at, kind)

    def answer(self, message: JSON, at: str) -> None:
        """An assistant message: it starts the turn, or joins the turn's (after its calls, a chat API wants the
        calls' outputs next)."""
        if self._turn is None:
            self._turn, self._turn_index = message, len(self.messages)
            self._append(message, at, "message")
        else:
            for name in ("content", "refusal"):
                before, after = self._turn.get(name) or "", message.get(name) or ""
                # One answer cut around its calls goes back whole; two messages keep apart as paragraphs.
                apart = before and after and not (before[-1].isspace() or after[0].isspace())
                self._turn[name] = (before + ("\n\n" if apart else "") + after) or self._turn.get(name)
        self._carry_thinking(self._turn)

    def call(self, call: JSON, at: str) -> None:
        if self._turn is None:
            self._turn, self._turn_index = {"role": "assistant", "content": None}, len(self.messages)
            self._append(self._turn, at, "call")
        self._carry_thinking(self._turn)
        calls = self._turn.setdefault("tool_calls", [])
        self.call_origins[self._turn_index, len(calls)] = at
        calls.append(call)

    def _append(self, message: JSON, at: str, kind: str) -> None:
        self.messages.append(message)
        self.origins.append((at, kind))

    def think(self, text: str | None, blocks: list[Any] | None) -> None:
        if text:
            self._thinking.append(text)
        self._blocks += blocks or ()

    def _carry_thinking(self, message: JSON) -> None:
        if self._thinking:
            message["reasoning_content"] = "\n\n".join(filter(None, [message.get("reasoning_content"),
                                                                      *self._thinking]))
        if self._blocks:
            message["thinking_blocks"] = [*message.get("thinking_blocks", ()), *self._blocks]
        self._thinking, self._blocks = [], []


def _messages(request: ResponseRequest) -> _History:
    history = _History()
    if request.instructions is not None:
        history.add({"role": "system", "content": request.instructions}, "instructions")
    if isinstance(request.input, str):
        history.add({"role": "user", "content": request.input}, "input")
        return history
    if not request.input:
        raise InvalidRequestError("'input' must contain at least one item.", param="input", code="empty_array")
    for i, item in enumerate(request.input):
        _read_item(history, item, f"input[{i}]")
    return history


def _read_item(history: _History, item: JSON, at: str) -> None:
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        message = _message(item, at)
        if message["role"] == "assistant":
            history.answer(message, at)
        else:
            history.add(message, at)
    elif kind == "function_call":
        call_id, name = _text_field(item, "call_id", at), _text_field(item, "name", at)
        arguments = _text_field(item, "arguments", at)
        history.call({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}, at)
    elif kind == "function_call_output":
        history.add({"role": "tool", "tool_call_id": _text_field(item, "call_id", at),
                     "content": _tool_output(item.get("output"), f"{at}.output")}, at, "output")
    elif kind == "reasoning":
        try:
            blocks = read_blocks(item.get("encrypted_content"))
        except ValueError:
            raise InvalidRequestError("This 'encrypted_content' was changed: send the reasoning item back as the "
                                      "gateway wrote it.", param=f"{at}.encrypted_content",
                                      code="invalid_value") from None
        history.think(_reasoning_text(item, at), blocks)
    elif kind is None:
        raise InvalidRequestError("Each input item needs a 'type' (or a 'role', for a message).", param=f"{at}.type",
                                  code="missing_required_parameter")
    else:
        raise InvalidRequestError(f"Input items of type '{kind}' are not supported: the gateway takes messages, "
                                  "function calls, their outputs and reasoning.", param=f"{at}.type",
                                  code="unsupported_value")


def _message(item: JSON, at: str) -> JSON:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequestError(f"Invalid value for 'role': {role!r}; expected 'user', 'assistant', 'system' or "
                                  "'developer'.", param=f"{at}.role", code="invalid_value")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequestError("A message's 'content' must be a string or a list of parts.",
                                  param=f"{at}.content", code="invalid_type")
    if role != "assistant":
        return {"role": role, "content": [_input_part(part, f"{at}.content[{j}]") for j, part in enumerate(content)]}
    message: JSON = {"role": "assistant", "content": None}
    texts: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("output_text", "input_text"):
            texts.append(_text_field(part, "text", f"{at}.content[{j}]"))
        elif kind == "refusal":
            message["refusal"] = _text_field(part, "refusal", f"{at}.content[{j}]")
        else:
            raise InvalidRequestError(f"An assistant message takes 'output_text' and 'refusal' parts, not {kind!r}.",
                                      param=f"{at}.content[{j}].type", code="invalid_value")
    if texts:
        message["content"] = "".join(texts)
    return message


def _input_part(part: Any, at: str) -> JSON:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": _text_field(part, "text", at)}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequestError("An 'input_image' needs an 'image_url' (a URL or a data: URL); file ids "
                                      "refer to OpenAI's file storage, which the gateway does not have.",
                                      param=f"{at}.image_url", code="unsupported_value")
        image: JSON = {"url": url}
        if part.get("detail") in _DETAILS:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {name: part[name] for name in ("file_data", "file_id", "filename") if isinstance(part.get(name), str)}
        if "file_data" not in file and "file_id" not in file:
            raise InvalidRequestError("An 'input_file' needs 'file_data' (a base64 data: URL) or a 'file_id'.",
                                      param=f"{at}.file_data", code="unsupported_value")
        return {"type": "file", "file": file}
    raise InvalidRequestError(f"Input content parts are 'input_text', 'input_image' or 'input_file', not {kind!r}.",
                              param=f"{at}.type", code="invalid_value")


def _tool_output(output: Any, at: str) -> str | list[JSON]:
    if isinstance(output, str):
        return output
    if not isinstance(output, list):
        raise InvalidRequestError("A function call's 'output' must be a string or a list of parts.", param=at,
                                  code="invalid_type")
    parts = [_input_part(part, f"{at}[{j}]") for j, part in enumerate(output)]
    for j, part in enumerate(parts):
        if part["type"] != "text":
            raise InvalidRequestError("A function call's output may only hold text here.", param=f"{at}[{j}].type",
                                      code="unsupported_value")
    return parts


def _text_field(record: JSON, name: str, at: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        code = "missing_required_parameter" if value is None else "invalid_type"
        raise InvalidRequestError(f"'{name}' must be a string.", param=f"{at}.{name}", code=code)
    return value


def _reasoning_text(item: JSON, at: str) -> str | None:
    texts = []
    for key in ("content", "summary"):
        parts = item.get(key) or []
        if not isinstance(parts, list):
            raise InvalidRequestError(f"A reasoning item's '{key}' must be a list of parts.", param=f"{at}.{key}",
                                      code="invalid_type")
        texts += [part["text"] for part in parts if isinstance(part, dict) and isinstance(part.get("text"), str)]
    found = [text for text in texts if text]
    return "\n\n".join(found) if found else None


def _tools(request: ResponseRequest) -> tuple[list[JSON], str | JSON | None]:
    tools = [_function_tool(tool, f"tools[{i}]") for i, tool in enumerate(request.tools or ())]
    choice = request.tool_choice
    if isinstance(choice, str) and choice not in _CHOICES:
        raise InvalidRequestError(f"Invalid value for 'tool_choice': {choice!r}; expected 'none', 'auto', 'required' "
                                  "or an object.", param="tool_choice", code="invalid_value")
    names = [tool["function"]["name"] for tool in tools]
    check_choice(choice == "required", None, names)
    if choice is None or isinstance(choice, str):
        return tools, choice
    kind = choice.get("type")
    if kind == "function":
        name = _text_field(choice, "name", "tool_choice")
        check_choice(False, name, names)
        return tools, {"type": "function", "function": {"name": name}}
    if kind == "allowed_tools":
        listed = choice.get("tools")
        if not isinstance(listed, list):
            raise InvalidRequestError("'allowed_tools' needs the list of 'tools' the model may call.",
                                      param="tool_choice.tools", code="invalid_type")
        allowed = {tool.get("name") for tool in listed if isinstance(tool, dict) and isinstance(tool.get("name"), str)}
        kept = [tool for tool in tools if tool["function"]["name"] in allowed]
        if not kept:
            raise InvalidRequestError("'allowed_tools' names none of the function tools.", param="tool_choice.tools",
                                      code="invalid_value")
        return kept, choice.get("mode", "auto")
    raise InvalidRequestError(f"tool_choice of type {kind!r} is not supported: the gateway serves function tools.",
                              param="tool_choice.type", code="unsupported_value")


def _function_tool(tool: Any, at: str) -> JSON:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind != "function":
        raise InvalidRequestError(f"Tools of type {kind!r} are not supported: the gateway serves function tools "
                                  "(hosted tools run on OpenAI's servers).", param=f"{at}.type",
                                  code="unsupported_value")
    function: JSON = {"name": _text_field(tool, "name", at)}
    for name in ("description", "parameters", "strict"):
        if tool.get(name) is not None:
            function[name] = tool[name]
    return {"type": "function", "function": function}


def _response_format(text: TextConfig | None) -> JSON | None:
    spec = text.format if text else None
    if spec is None:
        return None
    kind = spec.get("type")
    if kind not in _FORMATS:
        raise InvalidRequestError(f"text.format.type must be one of {', '.join(_FORMATS)}, not {kind!r}.",
                                  param="text.format.type", code="invalid_value")
    if kind != "json_schema":
        return None if kind == "text" else {"type": kind}
    schema: JSON = {"name": _text_field(spec, "name", "text.format")}
    schema.update((name, spec[name]) for name in ("description", "schema", "strict") if spec.get(name) is not None)
    return {"type": "json_schema", "json_schema": schema}
