"""Pure builders for the OpenAI REST wire objects served by `FakeOpenAI` (no I/O here).

Shapes follow OpenAI's public API reference: the chat completion and chat completion chunk objects,
the legacy text completion object, the embeddings list, the model object, transcriptions and
translations (json, text, srt, vtt, verbose_json), speech audio, the moderation object and the error
envelope `{"error": {"message", "type", "param", "code"}}`. Replies are deterministic so tests can
assert them: chat answers `"echo: " + <last user text>` (plus ` [images: N]` when images were sent),
token counts are whitespace word counts, embeddings are unit vectors derived from a hash of the input,
a transcript reads `"A <seconds> second recording."` (a WAV upload's real duration), speech is a
400 Hz tone (24 kHz mono 16-bit; real WAV/PCM, header-correct stand-ins for mp3/opus/aac/flac) lasting
`speech_seconds(input, speed)`, and moderation flags inputs mentioning "kill" (violence) or "hate".

Multipart uploads are parsed with the `multipart` package (`parse_form`), binary safe.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
import struct
import wave
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import msgspec
import multipart  # type: ignore[import-untyped]  # no py.typed

JSON = dict[str, Any]

FINGERPRINT = "fp_f4ke0pena1"
SLOW_REPLY = " ".join(f"token{i}" for i in range(50))
DEFAULT_EMBEDDING_DIMS = 8
MODELS: tuple[tuple[str, int], ...] = (
    ("gpt-4o-mini", 1721172741),
    ("gpt-4o", 1715367049),
    ("gpt-3.5-turbo-instruct", 1692901427),
    ("text-embedding-3-small", 1705948997),
    ("text-embedding-3-large", 1705953180),
)
_KEYS_URL = "https://platform.openai.com/account/api-keys"


class APIError(Exception):
    """An OpenAI-style error response: HTTP status, error object and optional extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.error: JSON = {"message": message, "type": kind, "param": param, "code": code}

    def body(self) -> JSON:
        return {"error": self.error}


# --- errors -------------------------------------------------------------------------------------


def missing_api_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
        "username) if you're accessing the API from your browser and are prompted for a username and "
        f"password. You can obtain an API key from {_KEYS_URL}.",
    )


def mask_key(key: str) -> str:
    return f"{key[:6]}{'*' * max(4, len(key) - 9)}{key[-3:]}"


def incorrect_api_key(key: str) -> APIError:
    message = f"Incorrect API key provided: {mask_key(key)}. You can find your API key at {_KEYS_URL}."
    return APIError(401, message, code="invalid_api_key")


def model_not_found(model: str) -> APIError:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return APIError(404, message, code="model_not_found")


def context_length_exceeded(limit: int, used: int) -> APIError:
    message = (f"This model's maximum context length is {limit} tokens. However, your messages resulted in {used} "
               "tokens. Please reduce the length of the messages.")
    return APIError(400, message, param="messages", code="context_length_exceeded")


def missing_parameter(name: str) -> APIError:
    message = f"Missing required parameter: '{name}'."
    return APIError(400, message, param=name, code="missing_required_parameter")


def invalid_parameter(name: str, detail: str, code: str = "invalid_value") -> APIError:
    return APIError(400, f"Invalid '{name}': {detail}", param=name, code=code)


def invalid_json() -> APIError:
    return APIError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
        "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
        "JSON. If you have trouble figuring out how to fix this, please contact us through our help "
        "center at help.openai.com.)",
    )


def unknown_url(method: str, path: str) -> APIError:
    message = (
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        "or see the docs at https://platform.openai.com/docs/api-reference/."
    )
    return APIError(404, message, code="unknown_url")


def invalid_method(method: str, path: str, allowed: str) -> APIError:
    return APIError(405, f"Invalid method for URL ({method} {path})", headers={"allow": allowed})


def fault_status(status: int, model: str) -> APIError:
    """The error OpenAI sends with `status` (used by the `fault-status-<code>` models)."""
    if status == 400:
        detail = "empty array. Expected an array with minimum length 1, but got an empty array instead."
        return invalid_parameter("messages", detail, code="empty_array")
    if status == 401:
        return incorrect_api_key("sk-fault-injected")
    if status == 403:
        message = "Country, region, or territory not supported"
        return APIError(403, message, kind="request_forbidden", code="unsupported_country_region_territory")
    if status == 404:
        return model_not_found(model)
    if status == 429:
        return _rate_limited(model)
    if status == 500:
        message = "The server had an error while processing your request. Sorry about that!"
        return APIError(500, message, kind="server_error")
    if status == 503:
        message = "The server is overloaded or not ready yet."
        return APIError(503, message, kind="service_unavailable", code="service_unavailable")
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return APIError(status, f"Injected fault: HTTP {status}.", kind=kind)


def _rate_limited(model: str) -> APIError:
    message = (
        f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 1s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )
    headers = {
        "retry-after": "1",
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1s",
    }
    return APIError(429, message, kind="requests", code="rate_limit_exceeded", headers=headers)


# --- request helpers ----------------------------------------------------------------------------


def words(text: str) -> int:
    return len(text.split())


def pieces(text: str) -> list[str]:
    """Split into words that keep their trailing whitespace: `"".join(pieces(t)) == t` (t not blank-led)."""
    found = re.findall(r"\S+\s*", text)
    lead = text[: len(text) - len(text.lstrip())]
    return [lead + found[0], *found[1:]] if found else ([lead] if lead else [])


def message_text(content: Any) -> tuple[str, int]:
    """(concatenated text, number of image parts) of a message `content` field."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    parts = [p for p in content if isinstance(p, dict)]
    text = "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
    return text, sum(1 for p in parts if p.get("type") == "image_url")


def int_param(body: JSON, name: str, *, low: int = 1, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        detail = f"expected an integer, but got {type(value).__name__} instead."
        raise invalid_parameter(name, detail, "invalid_type")
    if value < low:
        detail = f"integer below minimum value. Expected a value >= {low}, but got {value} instead."
        raise invalid_parameter(name, detail, "integer_below_min_value")
    if high is not None and value > high:
        detail = f"integer above maximum value. Expected a value <= {high}, but got {value} instead."
        raise invalid_parameter(name, detail, "integer_above_max_value")
    return value


def stream_mode(body: JSON) -> tuple[bool, bool]:
    """(stream, include_usage); like OpenAI, reject `stream_options` on a non-streaming request."""
    stream = body.get("stream") is True
    options = body.get("stream_options")
    if options is not None and not stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise APIError(400, message, param="stream_options")
    return stream, isinstance(options, dict) and options.get("include_usage") is True


class Meta(NamedTuple):
    """Fields shared by a response and all of its stream chunks."""

    id: str
    created: int
    model: str


@dataclass(frozen=True)
class Reply:
    """What one choice says: text pieces or tool calls (id, name, arguments)."""

    pieces: tuple[str, ...] = ()
    tool_calls: tuple[tuple[str, str, str], ...] = ()
    finish_reason: str = "stop"
    reasoning: str = ""
    """DeepSeek's thinking (``reasoning_content``), before the text or the calls."""

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        thinking = len(pieces(self.reasoning))
        if self.tool_calls:
            return thinking + sum(words(arguments) for _, _, arguments in self.tool_calls)
        return thinking + len(self.pieces)


def text_reply(text: str, limit: int | None) -> Reply:
    split = pieces(text)
    if limit is None or limit >= len(split):
        return Reply(pieces=tuple(split))
    kept = split[:limit]
    kept[-1] = kept[-1].rstrip()
    return Reply(pieces=tuple(kept), finish_reason="length")


def usage(prompt: int, completion: int, *, details: bool = True) -> JSON:
    total = prompt + completion
    result: JSON = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    if details:
        result["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        result["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return result


def split_in(text: str, parts: int) -> list[str]:
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# --- chat completions ---------------------------------------------------------------------------


MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    role: frozenset(("role", "content", *rest)) for role, rest in (
        ("system", ("name",)), ("developer", ("name",)), ("user", ("name",)),
        ("assistant", ("name", "tool_calls", "function_call", "refusal", "audio", "annotations")),
        ("tool", ("tool_call_id",)), ("function", ("name",)))
}
"""The fields each role's message may have; OpenAI's API refuses any other (400 ``unknown_parameter``), such as
another provider's ``reasoning_content`` sent back in the history."""


def _messages(body: JSON, strict_fields: bool = True) -> list[JSON]:
    messages = body.get("messages")
    if messages is None:
        raise missing_parameter("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise invalid_parameter("messages", "expected an array of objects.", "invalid_type")
    if not messages:
        detail = "empty array. Expected an array with minimum length 1, but got an empty array instead."
        raise invalid_parameter("messages", detail, "empty_array")
    for index, message in enumerate(messages):
        known = MESSAGE_FIELDS.get(str(message.get("role")), ()) if strict_fields else ()
        for name in message:
            if known and name not in known:  # an unknown role is refused elsewhere, or not at all here
                where = f"messages[{index}].{name}"
                raise APIError(400, f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter")
    return messages


def _chosen_tools(body: JSON) -> list[str]:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if not isinstance(tools, list) or not tools or choice == "none":
        return []
    names = [str(t.get("function", {}).get("name", "")) for t in tools if isinstance(t, dict)]
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return [str(choice["function"].get("name", ""))]
    return names[:1] if body.get("parallel_tool_calls") is False else names


def _tool_reply(names: list[str], text: str) -> Reply:
    arguments = msgspec.json.encode({"echo": text}).decode()
    calls = []
    for index, name in enumerate(names):
        digest = hashlib.sha256(f"{index}:{name}:{arguments}".encode()).hexdigest()[:22]
        calls.append((f"call_{index}{digest}", name, arguments))
    return Reply(tool_calls=tuple(calls), finish_reason="tool_calls")


def plan_chat(body: JSON, override: str | None = None, dialect: str = "openai") -> tuple[Reply, int, int]:
    """Validate a chat request and decide the reply: (reply per choice, prompt tokens, n). ``dialect``
    ``deepseek``: DeepSeek's API, which takes message fields OpenAI's refuses and thinks (:func:`_deepseek_thinks`)."""
    thinks = dialect == "deepseek" and _deepseek_thinks(body)
    messages = _messages(body, strict_fields=dialect != "deepseek")
    if body.get("parallel_tool_calls") is not None and not body.get("tools"):
        raise APIError(400, "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
                       "'tools' are specified.", param="parallel_tool_calls")
    n = int_param(body, "n", high=128) or 1
    limit = int_param(body, "max_completion_tokens") or int_param(body, "max_tokens")
    prompt_tokens = sum(words(message_text(m.get("content"))[0]) for m in messages)
    users = [m for m in messages if m.get("role") == "user"]
    text, images = message_text(users[-1].get("content")) if users else ("", 0)
    names = _chosen_tools(body)
    thought = f"Let me think about {text}." if thinks else ""
    if names:
        return replace(_tool_reply(names, text), reasoning=thought), prompt_tokens, n
    reply = override if override is not None else "echo: " + text + (f" [images: {images}]" if images else "")
    return replace(text_reply(reply, limit), reasoning=thought), prompt_tokens, n


DEEPSEEK_ROLES = ("system", "user", "assistant", "tool", "latest_reminder")


def _deepseek_thinks(body: JSON) -> bool:
    """DeepSeek's checks: its roles (not OpenAI's ``developer``) and, in thinking mode (on unless ``thinking``
    says ``disabled``), the thinking of every earlier turn that called tools, which it wants back. Whether it
    thinks."""
    messages = body.get("messages")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in DEEPSEEK_ROLES:
            expected = ", ".join(f"`{r}`" for r in DEEPSEEK_ROLES)
            raise APIError(400, "Failed to deserialize the JSON body into the target type: messages"
                           f"[{index}].role: unknown variant `{role}`, expected one of {expected}",
                           code="invalid_request_error")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "disabled":
        return False
    if any(m.get("role") == "assistant" and m.get("tool_calls") and not m.get("reasoning_content") for m in messages):
        raise APIError(400, "The `reasoning_content` in the thinking mode must be passed back to the API.",
                       code="invalid_request_error")
    return True


def _message(reply: Reply) -> JSON:
    message: JSON = {"role": "assistant", "content": None if reply.tool_calls else reply.text}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}
            for cid, name, arguments in reply.tool_calls
        ]
    message.update(refusal=None, annotations=[])
    return message


def chat_completion(meta: Meta, reply: Reply, prompt_tokens: int, n: int) -> JSON:
    choices = [
        {"index": i, "message": _message(reply), "logprobs": None, "finish_reason": reply.finish_reason}
        for i in range(n)
    ]
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": choices,
        "usage": usage(prompt_tokens, reply.tokens * n),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _tool_deltas(reply: Reply) -> list[JSON]:
    deltas: list[JSON] = []
    for index, (cid, name, arguments) in enumerate(reply.tool_calls):
        head = [{"index": index, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}]
        first: JSON = {"role": "assistant", "content": None, "tool_calls": head, "refusal": None}
        deltas.append(first if index == 0 else {"tool_calls": head})
        deltas += [
            {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
            for fragment in split_in(arguments, 3)
        ]
    return deltas


def _chat_deltas(reply: Reply) -> list[JSON]:
    thinking = [{"role": "assistant", "content": None, "reasoning_content": p} for p in pieces(reply.reasoning)]
    if reply.tool_calls:
        return thinking + _tool_deltas(reply)
    return [*thinking, {"role": "assistant", "content": "", "refusal": None}, *({"content": p} for p in reply.pieces)]


def chat_chunks(meta: Meta, reply: Reply, prompt_tokens: int, n: int, with_usage: bool) -> list[JSON]:
    def chunk(choices: list[JSON]) -> JSON:
        result: JSON = {
            "id": meta.id,
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": meta.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        return result | {"usage": None} if with_usage else result

    def choice(index: int, delta: JSON, finish: str | None) -> JSON:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    deltas = _chat_deltas(reply)
    chunks = [chunk([choice(i, delta, None)]) for i in range(n) for delta in deltas]
    chunks += [chunk([choice(i, {}, reply.finish_reason)]) for i in range(n)]
    if with_usage:
        chunks.append(chunk([]) | {"usage": usage(prompt_tokens, reply.tokens * n)})
    return chunks


# --- legacy completions -------------------------------------------------------------------------


def _prompts(value: Any) -> list[str]:
    if value is None:
        raise missing_parameter("prompt")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if _token_list(value):
        return [" ".join(map(str, value))]
    if isinstance(value, list) and value and all(_token_list(v) for v in value):
        return [" ".join(map(str, v)) for v in value]
    raise invalid_parameter("prompt", "expected a string, an array of strings or an array of tokens.")


def plan_completion(body: JSON, override: str | None = None) -> tuple[list[Reply], int]:
    """Validate a legacy completion request: (one reply per choice in index order, prompt tokens)."""
    prompts = _prompts(body.get("prompt"))
    n = int_param(body, "n", high=128) or 1
    limit = int_param(body, "max_tokens")
    replies = [text_reply(override if override is not None else "echo: " + p, limit) for p in prompts]
    return [r for r in replies for _ in range(n)], sum(words(p) for p in prompts)


def text_completion(meta: Meta, replies: list[Reply], prompt_tokens: int) -> JSON:
    choices = [
        {"text": r.text, "index": i, "logprobs": None, "finish_reason": r.finish_reason}
        for i, r in enumerate(replies)
    ]
    return {
        "id": meta.id,
        "object": "text_completion",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": usage(prompt_tokens, sum(r.tokens for r in replies), details=False),
    }


def completion_chunks(meta: Meta, replies: list[Reply], prompt_tokens: int, with_usage: bool) -> list[JSON]:
    def chunk(choices: list[JSON]) -> JSON:
        result: JSON = {
            "id": meta.id,
            "object": "text_completion",
            "created": meta.created,
            "model": meta.model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        return result | {"usage": None} if with_usage else result

    def choice(index: int, text: str, finish: str | None) -> JSON:
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}

    chunks = [chunk([choice(i, p, None)]) for i, r in enumerate(replies) for p in r.pieces]
    chunks += [chunk([choice(i, "", r.finish_reason)]) for i, r in enumerate(replies)]
    if with_usage:
        total = usage(prompt_tokens, sum(r.tokens for r in replies), details=False)
        chunks.append(chunk([]) | {"usage": total})
    return chunks


# --- embeddings ---------------------------------------------------------------------------------


def _token_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _invalid_input() -> APIError:
    message = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
    return APIError(400, message)


def _embedding_inputs(value: Any) -> list[tuple[bytes, int]]:
    """Each input as (hash key, token count)."""
    if value is None:
        raise missing_parameter("input")
    if isinstance(value, str) or _token_list(value):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _invalid_input()
    result = []
    for item in value:
        if isinstance(item, str) and item:
            result.append((b"s:" + item.encode(), max(1, words(item))))
        elif _token_list(item):
            result.append((b"t:" + ",".join(map(str, item)).encode(), len(item)))
        else:
            raise _invalid_input()
    return result


def embedding_vector(key: bytes, dims: int) -> list[float]:
    """Deterministic unit vector (float32 precision); a shorter one is the re-normalised prefix."""
    raw = struct.unpack(f"<{dims}I", hashlib.shake_256(key).digest(4 * dims))
    values = [v / 2**31 - 1.0 for v in raw]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return list(struct.unpack(f"<{dims}f", struct.pack(f"<{dims}f", *(v / norm for v in values))))


def embeddings(body: JSON) -> JSON:
    inputs = _embedding_inputs(body.get("input"))
    dims = int_param(body, "dimensions", high=3072) or DEFAULT_EMBEDDING_DIMS
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid_parameter("encoding_format", "supported values are: 'float' and 'base64'.")
    data = []
    for index, (key, _) in enumerate(inputs):
        vector = embedding_vector(key, dims)
        encoded: Any = vector
        if encoding == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count for _, count in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


# --- models -------------------------------------------------------------------------------------


def model_object(model_id: str) -> JSON:
    for known, created in MODELS:
        if known == model_id:
            return {"id": known, "object": "model", "created": created, "owned_by": "system"}
    raise model_not_found(model_id)


def models_list() -> JSON:
    return {"object": "list", "data": [model_object(model_id) for model_id, _ in MODELS]}


# --- multipart forms (audio uploads) ------------------------------------------------------------


class FormPart(msgspec.Struct, frozen=True):
    """One multipart/form-data part: field name and raw bytes, plus filename and content type for files."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


class Form(msgspec.Struct, frozen=True):
    """A parsed multipart/form-data body, parts in wire order (repeated fields such as `x[]` repeat)."""

    parts: tuple[FormPart, ...] = ()

    def get(self, name: str) -> FormPart | None:
        return next((part for part in self.parts if part.name == name), None)

    def value(self, name: str) -> str | None:
        part = self.get(name)
        return None if part is None else part.text

    def values(self, name: str) -> list[str]:
        return [part.text for part in self.parts if part.name == name]


def _invalid_multipart() -> APIError:
    return APIError(400, "Could not parse multipart form data.")


def parse_form(content_type: str, body: bytes) -> Form:
    """Parse a multipart/form-data body (binary safe); any other content type yields an empty form."""
    mime, options = multipart.parse_options_header(content_type)
    if mime != "multipart/form-data":
        return Form()
    boundary = options.get("boundary")
    if not boundary:
        raise _invalid_multipart()
    parts: list[FormPart] = []
    segment: Any = None
    data: list[bytes] = []
    try:
        with multipart.PushMultipartParser(str(boundary)) as parser:
            for event in parser.parse(body):
                if isinstance(event, multipart.MultipartSegment):
                    segment, data = event, []
                elif event is None:
                    content = str(segment.content_type) if segment.content_type else None
                    filename = None if segment.filename is None else str(segment.filename)
                    parts.append(FormPart(str(segment.name), b"".join(data), filename, content))
                else:
                    data.append(bytes(event))
    except multipart.MultipartError:
        raise _invalid_multipart() from None
    return Form(tuple(parts))


# --- audio: transcriptions and translations -----------------------------------------------------

AUDIO_FILE_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
TIMESTAMP_GRANULARITIES = ("word", "segment")
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ru": "russian",
    "ja": "japanese",
    "zh": "chinese",
}


def _request_validation(errors: list[tuple[str, str, str]]) -> APIError:
    """The (pydantic v1 style) message OpenAI's audio upload endpoints send for invalid form fields."""
    lines = [f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} for Request"]
    for field, message, kind in errors:
        lines += [f"body -> {field}", f"  {message} (type={kind})"]
    return APIError(400, "\n".join(lines))


def invalid_file_format() -> APIError:
    formats = ", ".join(repr(f) for f in AUDIO_FILE_FORMATS)
    return APIError(400, f"Invalid file format. Supported formats: [{formats}]")


def form_body(form: Form) -> JSON:
    """The fields of an audio upload as a request body; bad or missing `file`/`model` fail like OpenAI."""
    errors: list[tuple[str, str, str]] = []
    file, model = form.get("file"), form.value("model")
    if file is None:
        errors.append(("file", "field required", "value_error.missing"))
    if model is None:
        errors.append(("model", "field required", "value_error.missing"))
    response_format = form.value("response_format") or "json"
    if response_format not in TRANSCRIPTION_FORMATS:
        permitted = ", ".join(repr(f) for f in TRANSCRIPTION_FORMATS)
        detail = f"value is not a valid enumeration member; permitted: {permitted}"
        errors.append(("response_format", detail, "type_error.enum"))
    temperature = 0.0
    try:
        temperature = float(form.value("temperature") or 0.0)
    except ValueError:
        errors.append(("temperature", "value is not a valid float", "type_error.float"))
    if errors:
        raise _request_validation(errors)
    return {
        "file": file,
        "model": model,
        "language": form.value("language"),
        "prompt": form.value("prompt") or "",
        "response_format": response_format,
        "temperature": temperature,
        "timestamp_granularities": form.values("timestamp_granularities[]"),
    }


def audio_duration(data: bytes) -> float:
    """Real duration of a RIFF/WAVE file; anything else is taken as 128 kbit/s compressed audio."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                return wav.getnframes() / wav.getframerate()
        except (wave.Error, EOFError):
            pass
    return len(data) / 16000


def transcript_text(duration: float) -> str:
    return f"A {duration:.2f} second recording."


def _token_billed(model: str) -> bool:
    """gpt-4o(-mini)-transcribe and friends bill tokens and only answer json or text."""
    return model.startswith("gpt-") and "transcribe" in model


class Transcript(NamedTuple):
    """What a transcription or translation request gets back, before rendering to its response_format."""

    task: str  # "transcribe" or "translate"
    model: str
    text: str
    duration: float
    language: str
    response_format: str
    granularities: tuple[str, ...]
    temperature: float
    prompt: str


def plan_transcription(body: JSON, task: str) -> Transcript:
    """Validate an upload (see `form_body`) like OpenAI and transcribe it deterministically."""
    file: FormPart = body["file"]
    _, dot, extension = (file.filename or "").rpartition(".")
    if not dot or extension.lower() not in AUDIO_FILE_FORMATS:
        raise invalid_file_format()
    model, response_format = str(body["model"]), str(body["response_format"])
    if _token_billed(model) and response_format not in ("json", "text"):
        message = (
            f"response_format '{response_format}' is not compatible with model '{model}'. "
            "Use 'json' or 'text' instead."
        )
        raise APIError(400, message, param="response_format", code="unsupported_value")
    granularities: list[str] = body["timestamp_granularities"]
    if granularities and response_format != "verbose_json":
        message = "`response_format` must be `verbose_json` if `timestamp_granularities[]` is provided"
        raise APIError(400, message, param="timestamp_granularities")
    for granularity in granularities:
        if granularity not in TIMESTAMP_GRANULARITIES:
            detail = "supported values are: 'word' and 'segment'."
            raise invalid_parameter("timestamp_granularities", detail)
    duration = audio_duration(file.data)
    language = str(body["language"] or "en")
    return Transcript(
        task=task,
        model=model,
        text=transcript_text(duration),
        duration=duration,
        language="english" if task == "translate" else _LANGUAGES.get(language, language),
        response_format=response_format,
        granularities=tuple(granularities) or ("segment",),
        temperature=float(body["temperature"]),
        prompt=str(body["prompt"]),
    )


def _transcription_usage(t: Transcript) -> JSON:
    if not _token_billed(t.model):
        return {"type": "duration", "seconds": math.ceil(t.duration)}
    audio, text, output = math.ceil(t.duration * 10), words(t.prompt), words(t.text)
    return {
        "type": "tokens",
        "input_tokens": audio + text,
        "input_token_details": {"text_tokens": text, "audio_tokens": audio},
        "output_tokens": output,
        "total_tokens": audio + text + output,
    }


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02}:{minutes:02}:{rest // 1000:02}{separator}{rest % 1000:03}"


def _segment(t: Transcript) -> JSON:
    tokens = [50364 + int.from_bytes(hashlib.sha256(w.encode()).digest()[:2], "big") % 1000 for w in t.text.split()]
    return {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": round(t.duration, 2),
        "text": " " + t.text,
        "tokens": tokens,
        "temperature": t.temperature,
        "avg_logprob": -0.25,
        "compression_ratio": 0.8,
        "no_speech_prob": 0.01,
    }


def _words(t: Transcript) -> list[JSON]:
    spoken = [w.rstrip(".") for w in t.text.split()]
    step = t.duration / len(spoken)
    return [
        {"word": w, "start": round(i * step, 2), "end": round((i + 1) * step, 2)} for i, w in enumerate(spoken)
    ]


def transcription_response(t: Transcript) -> tuple[str, JSON | bytes]:
    """(content type, JSON payload or raw body) for the transcript in its requested response_format."""
    if t.response_format == "text":
        return TEXT_CONTENT_TYPE, t.text.encode()
    end = round(t.duration, 2)
    if t.response_format == "srt":
        return TEXT_CONTENT_TYPE, f"1\n{_timestamp(0, ',')} --> {_timestamp(end, ',')}\n{t.text}\n\n".encode()
    if t.response_format == "vtt":
        return TEXT_CONTENT_TYPE, f"WEBVTT\n\n{_timestamp(0, '.')} --> {_timestamp(end, '.')}\n{t.text}\n\n".encode()
    if t.response_format == "json":
        usage = {} if t.task == "translate" else {"usage": _transcription_usage(t)}
        return "application/json", {"text": t.text, **usage}
    verbose: JSON = {"task": t.task, "language": t.language, "duration": t.duration, "text": t.text}
    if "word" in t.granularities:
        verbose["words"] = _words(t)
    if "segment" in t.granularities:
        verbose["segments"] = [_segment(t)]
    if t.task == "transcribe":
        verbose["usage"] = _transcription_usage(t)
    return "application/json", verbose


# --- audio: speech ------------------------------------------------------------------------------

SPEECH_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
SPEECH_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
SPEECH_MAX_INPUT = 4096
SPEECH_SAMPLE_RATE = 24000
SPEECH_CHUNK_BYTES = 4096
_TONE_PERIOD = 60  # samples: a 400 Hz tone at 24 kHz


class Speech(NamedTuple):
    audio: bytes
    content_type: str


def speech_seconds(text: str, speed: float = 1.0) -> float:
    """Length of the fake speech for `text`: half a second plus 50 characters a second, divided by speed."""
    return (0.5 + len(text) / 50) / speed


def speech_samples(seconds: float) -> int:
    return round(seconds * SPEECH_SAMPLE_RATE)


def tone_pcm(samples: int) -> bytes:
    """16-bit little-endian mono PCM of a 400 Hz tone, `samples` long."""
    period = struct.pack(
        f"<{_TONE_PERIOD}h", *(round(8000 * math.sin(2 * math.pi * i / _TONE_PERIOD)) for i in range(_TONE_PERIOD))
    )
    whole, rest = divmod(samples, _TONE_PERIOD)
    return period * whole + period[: rest * 2]


def wav_file(pcm: bytes, rate: int = SPEECH_SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _mp3(samples: int) -> bytes:
    # An empty ID3v2.4 tag, then MPEG-2 Layer III frames (24 kHz, 64 kbit/s, mono: 192 bytes, 576 samples).
    frame = b"\xff\xf3\x84\xc0" + bytes(188)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * math.ceil(samples / 576)


def _opus(samples: int) -> bytes:
    # An Ogg page (BOS) carrying the OpusHead packet (mono, 24 kHz input rate), then filler.
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, SPEECH_SAMPLE_RATE, 0, 0)
    page = b"OggS\x00\x02" + bytes(8) + struct.pack("<III", 1, 0, 0) + bytes([1, len(head)]) + head
    return page + bytes(math.ceil(samples / SPEECH_SAMPLE_RATE * 4000))


def _aac(samples: int) -> bytes:
    # ADTS frames: MPEG-4 AAC LC, 24 kHz (index 6), mono, no CRC, 128 bytes per 1024 samples.
    length = 128
    header = bytes([0xFF, 0xF1, 0x58, 0x40 | (length >> 11), (length >> 3) & 0xFF, ((length & 7) << 5) | 0x1F, 0xFC])
    return (header + bytes(length - len(header))) * math.ceil(samples / 1024)


def _flac(samples: int) -> bytes:
    # "fLaC" and the (last) STREAMINFO block: 4096-sample blocks, 24 kHz, mono, 16 bit; then filler.
    packed = (SPEECH_SAMPLE_RATE << 44) | (0 << 41) | (15 << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info + bytes(samples)


def _or_list(values: tuple[str, ...]) -> str:
    quoted = [repr(v) for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _field_error(kind: str, field: str, message: str, value: Any, ctx: JSON | None = None) -> JSON:
    """One pydantic v2 style error (no `url`), as OpenAI's speech endpoint lists them."""
    error: JSON = {"type": kind, "loc": ("body", field), "msg": message, "input": value}
    return error | {"ctx": ctx} if ctx is not None else error


def _enum_error(field: str, allowed: tuple[str, ...], value: Any) -> JSON:
    expected = _or_list(allowed)
    return _field_error("enum", field, f"Input should be {expected}", value, {"expected": expected})


def _speech_errors(body: JSON) -> list[JSON]:
    errors: list[JSON] = []
    text, voice = body.get("input"), body.get("voice")
    if text is None:
        errors.append(_field_error("missing", "input", "Field required", body))
    elif not isinstance(text, str):
        errors.append(_field_error("string_type", "input", "Input should be a valid string", text))
    elif len(text) > SPEECH_MAX_INPUT:
        # OpenAI leaves the (long) input out of this one.
        message = f"String should have at most {SPEECH_MAX_INPUT} characters"
        error = _field_error("string_too_long", "input", message, None, {"max_length": SPEECH_MAX_INPUT})
        errors.append({key: value for key, value in error.items() if key != "input"})
    if voice is None:
        errors.append(_field_error("missing", "voice", "Field required", body))
    elif voice not in SPEECH_VOICES and not (isinstance(voice, dict) and isinstance(voice.get("id"), str)):
        errors.append(_enum_error("voice", SPEECH_VOICES, voice))
    response_format = body.get("response_format", "mp3")
    if response_format not in SPEECH_CONTENT_TYPES:
        errors.append(_enum_error("response_format", tuple(SPEECH_CONTENT_TYPES), response_format))
    speed = body.get("speed", 1.0)
    if not isinstance(speed, int | float) or isinstance(speed, bool):
        errors.append(_field_error("float_type", "speed", "Input should be a valid number", speed))
    elif speed < 0.25:
        message = "Input should be greater than or equal to 0.25"
        errors.append(_field_error("greater_than_equal", "speed", message, speed, {"ge": 0.25}))
    elif speed > 4.0:
        message = "Input should be less than or equal to 4.0"
        errors.append(_field_error("less_than_equal", "speed", message, speed, {"le": 4.0}))
    return errors


def plan_speech(body: JSON) -> Speech:
    """Validate a speech request like OpenAI and synthesise its (deterministic) audio."""
    errors = _speech_errors(body)
    if errors:
        raise APIError(400, repr(errors))
    response_format = str(body.get("response_format", "mp3"))
    samples = speech_samples(speech_seconds(str(body["input"]), float(body.get("speed", 1.0))))
    if response_format in ("wav", "pcm"):
        pcm = tone_pcm(samples)
        audio = wav_file(pcm) if response_format == "wav" else pcm
    else:
        audio = {"mp3": _mp3, "opus": _opus, "aac": _aac, "flac": _flac}[response_format](samples)
    return Speech(audio, SPEECH_CONTENT_TYPES[response_format])


def split_bytes(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


# --- moderations --------------------------------------------------------------------------------

DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_IMAGE_CATEGORIES = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}
)
_FLAG_WORDS = (("violence", re.compile(r"\bkill", re.IGNORECASE)), ("hate", re.compile(r"\bhate", re.IGNORECASE)))


class ModerationInput(NamedTuple):
    text: str
    has_text: bool
    images: int


def _moderation_inputs(value: Any) -> list[ModerationInput]:
    """One entry per result: each string, or a whole list of multi-modal parts as one input."""
    if value is None:
        raise missing_parameter("input")
    if isinstance(value, str):
        return [ModerationInput(value, True, 0)]
    if not isinstance(value, list):
        raise _invalid_input()
    if not value:
        detail = "empty array. Expected an array with minimum length 1, but got an empty array instead."
        raise invalid_parameter("input", detail, "empty_array")
    if all(isinstance(item, str) for item in value):
        return [ModerationInput(item, True, 0) for item in value]
    texts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type") == "text"]
    images = [p.get("image_url") for p in value if isinstance(p, dict) and p.get("type") == "image_url"]
    valid_texts = all(isinstance(t, str) for t in texts)
    valid_images = all(isinstance(i, dict) and isinstance(i.get("url"), str) for i in images)
    if len(texts) + len(images) != len(value) or not valid_texts or not valid_images:
        raise _invalid_input()
    return [ModerationInput(" ".join(str(t) for t in texts), bool(texts), len(images))]


def _moderation_score(category: str, text: str, flagged: bool) -> float:
    fraction = int.from_bytes(hashlib.sha256(f"{category}\0{text}".encode()).digest()[:4], "big") / 2**32
    return 0.9 + 0.09 * fraction if flagged else 1e-6 + 1e-3 * fraction


def moderation_result(item: ModerationInput) -> JSON:
    flagged = {category for category, pattern in _FLAG_WORDS if pattern.search(item.text)}
    applied: JSON = {}
    for category in MODERATION_CATEGORIES:
        kinds = ["text"] if item.has_text else []
        applied[category] = [*kinds, "image"] if item.images and category in _IMAGE_CATEGORIES else kinds
    return {
        "flagged": bool(flagged),
        "categories": {category: category in flagged for category in MODERATION_CATEGORIES},
        "category_scores": {c: _moderation_score(c, item.text, c in flagged) for c in MODERATION_CATEGORIES},
        "category_applied_input_types": applied,
    }


def moderation(body: JSON, moderation_id: str) -> JSON:
    """A moderation object: inputs containing "kill"/"hate" are flagged as violence/hate, in input order."""
    inputs = _moderation_inputs(body.get("input"))
    return {
        "id": moderation_id,
        "model": str(body.get("model") or DEFAULT_MODERATION_MODEL),
        "results": [moderation_result(item) for item in inputs],
    }
