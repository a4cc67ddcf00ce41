"""Pure builders for the OpenAI REST wire objects served by `FakeOpenAI` (no I/O here).

Shapes follow OpenAI's public API reference: the chat completion and chat completion chunk objects,
the legacy text completion object, the embeddings list, the model object and the error envelope
`{"error": {"message", "type", "param", "code"}}`. Replies are deterministic so tests can assert them:
chat answers `"echo: " + <last user text>` (plus ` [images: N]` when images were sent), token counts
are whitespace word counts, and embeddings are unit vectors derived from a hash of the input.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

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

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        if self.tool_calls:
            return sum(words(arguments) for _, _, arguments in self.tool_calls)
        return len(self.pieces)


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


def _messages(body: JSON) -> list[JSON]:
    messages = body.get("messages")
    if messages is None:
        raise missing_parameter("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise invalid_parameter("messages", "expected an array of objects.", "invalid_type")
    if not messages:
        detail = "empty array. Expected an array with minimum length 1, but got an empty array instead."
        raise invalid_parameter("messages", detail, "empty_array")
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


def plan_chat(body: JSON, override: str | None = None) -> tuple[Reply, int, int]:
    """Validate a chat request and decide the reply: (reply per choice, prompt tokens, n)."""
    messages = _messages(body)
    n = int_param(body, "n", high=128) or 1
    limit = int_param(body, "max_completion_tokens") or int_param(body, "max_tokens")
    prompt_tokens = sum(words(message_text(m.get("content"))[0]) for m in messages)
    users = [m for m in messages if m.get("role") == "user"]
    text, images = message_text(users[-1].get("content")) if users else ("", 0)
    names = _chosen_tools(body)
    if names:
        return _tool_reply(names, text), prompt_tokens, n
    reply = override if override is not None else "echo: " + text + (f" [images: {images}]" if images else "")
    return text_reply(reply, limit), prompt_tokens, n


def _message(reply: Reply) -> JSON:
    message: JSON = {"role": "assistant", "content": None if reply.tool_calls else reply.text}
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
    if reply.tool_calls:
        return _tool_deltas(reply)
    return [{"role": "assistant", "content": "", "refusal": None}, *({"content": p} for p in reply.pieces)]


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
