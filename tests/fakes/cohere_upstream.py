"""A faithful fake of Cohere's REST API (chat, embed, rerank, key check, models) for tests: `FakeCohere`.

It is a raw ASGI 3 application (JSON via msgspec) served by uvicorn on 127.0.0.1:<ephemeral> in a daemon
thread (see `asgi_server`). `base_url` is the server root, like the SDK's `https://api.cohere.com`.
Routes, all behind `Authorization: Bearer <key>`:

* `POST /v2/chat`: `messages` (system/user/assistant/tool; `image_url` parts for vision models, `thinking` parts
  in assistant turns), `tools`, `tool_choice`, `response_format`, `max_tokens`, `stop_sequences`, sampling
  (`temperature`, `p`, `k`, penalties, `seed`), `thinking`, `stream`; an unknown field, at any depth, is Cohere's
  422. The reply is `echo: <text of the last user or tool message>`; a user message that names an offered tool (or
  any, with `tool_choice: REQUIRED`) gets tool calls instead, with a `tool_plan` and arguments from `name=value`
  words in the text; `response_format` gets a JSON object (sampled from `json_schema`). A reasoning model
  (`command-a-reasoning-08-2025`) thinks first, as Cohere's do unless `thinking` is `{"type": "disabled"}`: a
  `{"type": "thinking", "thinking": "The <role> said: <that text>"}` content item comes before the text (or the
  tool plan and calls), cut to `thinking.token_budget` pieces; other models ignore `thinking`. Tokens are
  whitespace-separated pieces: `stop_sequences` cut the text (`STOP_SEQUENCE`), `max_tokens` cuts the text's
  pieces, not the thinking's (`MAX_TOKENS`). `usage.billed_units` counts the words, thinking included, and
  `usage.tokens` a few more (the prompt template). Streamed, it is Cohere's SSE: `event: <type>` and
  `data: <json>` per event, `message-start` ... `message-end`, each content item (thinking at index 0, then the
  text) as `content-start`, `content-delta`s and `content-end`, a piece or a few argument characters per delta.
  A prompt over the model's context is Cohere's `too many tokens: ...` 400.
* `POST /v2/embed`: `texts` / `images` / `inputs`, `input_type`, `embedding_types`, `output_dimension`,
  `max_tokens`, `truncate`; answers `{id, texts, [images], embeddings: {<type>: [...]}, meta,
  response_type: "embeddings_by_type"}` with deterministic unit vectors of the model's real width.
* `POST /v2/rerank`: `query`, `documents` (strings), `top_n`, `max_tokens_per_doc`; answers
  `{id, results: [{index, relevance_score}], meta}` sorted by `relevance.relevance` (best first).
* `POST /v1/check-api-key`: `{valid, organization_id, owner_id}`.
* `GET /v1/models` (`page_size`, `page_token`, `endpoint`, `default_only`) and `GET /v1/models/{name}`.

Errors use Cohere's envelope `{"id": "<uuid>", "message": "..."}`, with the messages Cohere's error
reference lists where it lists one: 401 `no api key supplied` / `invalid api token`, 404 `model '<m>' not
found, ...`, 400 `invalid request: valid input_type must be provided with the provided model`, ... Cohere
documents no `retry-after` on 429 and none is seen in the wild, so this fake sends none (the SDK then backs off
exponentially from 1 s). Where Cohere's reference lists no message (bad `output_dimension`, `truncate`,
`top_n`, page tokens, most chat fields, 405, 503, ...), the wording is this fake's own, in Cohere's
`invalid request: ...` style.
Token counts are `relevance.word_count` words.

Faults are chosen by the request's `model` (POST routes), so they pass through any gateway unchanged:

* `fault-status-<code>`: that HTTP status with the body Cohere sends for it.
* `fault-stall-<seconds>`: wait before answering normally (gives up if the client disconnects).
* `fault-cut-<n>`: send 200 headers and half of the JSON body (a chat stream: its first n events), then drop
  the connection.
* `fault-garbage`: 200 `text/html` non-JSON body.
* `fault-error`: a chat that Cohere ends with `finish_reason: ERROR` (streamed: after two text deltas, in
  `message-end` with its `error` text).

Cohere sends no `retry-after` with a 429; set `FakeCohere.retry_after` to make `fault-status-429` carry one.
A fault model otherwise behaves as a chat + embed + rerank model of width 1024 and context 4096. Every request
is recorded (in order, faulted ones included) in `FakeCohere.requests`; a client that gave up during a stall
increments `FakeCohere.disconnects`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import struct
import threading
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import msgspec

from tests.fakes.asgi_server import (
    AbortConnection,
    Receive,
    Scope,
    Send,
    ThreadedASGIServer,
    read_body,
    sleep_unless_disconnected,
)
from tests.fakes.openai_upstream import RecordedRequest
from tests.fakes.openai_wire import embedding_vector
from tests.fakes.relevance import relevance, word_count

__all__ = ["MODELS", "CohereAPIError", "CohereModel", "FakeCohere", "RecordedRequest"]

JSON = dict[str, Any]

API_VERSION: JSON = {"version": "2"}
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary", "base64")
TRUNCATE_MODES = ("NONE", "START", "END")
ENDPOINTS = ("chat", "embed", "classify", "summarize", "rerank", "rate", "generate")
V4_DIMENSIONS = (256, 512, 1024, 1536)
MAX_TEXTS = 96
DOCUMENTS_PER_SEARCH_UNIT = 100
DEFAULT_MAX_TOKENS_PER_DOC = 4096
DEFAULT_PAGE_SIZE = 20

_GARBAGE = b"<html>502 Bad Gateway</html>"
_FAULT = re.compile(r"fault-(status|stall|cut)-(\d+(?:\.\d+)?)|fault-(garbage|error)")
_WORD = re.compile(r"\w+")  # the words `relevance.word_count` counts
_DATA_URI = re.compile(r"data:image/(jpeg|png|webp|gif);base64,(.*)", re.DOTALL)
_TOKENIZERS = "https://storage.googleapis.com/cohere-public/tokenizers/"
_ENDPOINTS = {"/v2/chat": "chat", "/v2/embed": "embed", "/v2/rerank": "rerank"}
_ROUTES = {**dict.fromkeys(_ENDPOINTS, "POST"), "/v1/check-api-key": "POST", "/v1/models": "GET"}
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohereModel:
    """One entry of the fake's model catalogue (`dimensions` and `max_images` matter for embed models, `reasoning`
    for chat models that think before they answer)."""

    name: str
    endpoints: tuple[str, ...]
    context_length: int
    dimensions: int = 0
    default_endpoints: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None
    supports_vision: bool = False
    output_dimensions: tuple[int, ...] = ()
    max_images: int | None = 1
    reasoning: bool = False

    def wire(self) -> JSON:
        return {
            "name": self.name,
            "endpoints": list(self.endpoints),
            "finetuned": False,
            "context_length": self.context_length,
            "tokenizer_url": f"{_TOKENIZERS}{self.name}.json",
            "supports_vision": self.supports_vision,
            "features": None if self.features is None else list(self.features),
            "default_endpoints": list(self.default_endpoints),
        }


_CHAT_FEATURES = ("json_mode", "json_schema", "safety_modes", "strict_tools", "tools")
MODELS: tuple[CohereModel, ...] = (
    CohereModel("command-a-03-2025", ("chat",), 256000, default_endpoints=("chat",), features=_CHAT_FEATURES),
    CohereModel("command-a-vision-07-2025", ("chat",), 128000, features=("json_mode",), supports_vision=True),
    CohereModel("command-a-reasoning-08-2025", ("chat",), 256000, features=_CHAT_FEATURES, reasoning=True),
    CohereModel("command-r-plus-08-2024", ("chat",), 128000, features=_CHAT_FEATURES),
    CohereModel("command-r-08-2024", ("chat",), 128000, features=_CHAT_FEATURES),
    CohereModel("command-r7b-12-2024", ("chat",), 128000, features=_CHAT_FEATURES),
    CohereModel("c4ai-aya-expanse-8b", ("chat",), 8192, features=()),
    CohereModel(
        "embed-v4.0",
        ("embed",),
        128000,
        1536,
        default_endpoints=("embed",),
        supports_vision=True,
        output_dimensions=V4_DIMENSIONS,
        max_images=None,
    ),
    CohereModel("embed-english-v3.0", ("embed", "classify"), 512, 1024, supports_vision=True),
    CohereModel("embed-multilingual-v3.0", ("embed", "classify"), 512, 1024, supports_vision=True),
    CohereModel("embed-english-light-v3.0", ("embed", "classify"), 512, 384, supports_vision=True),
    CohereModel("embed-multilingual-light-v3.0", ("embed", "classify"), 512, 384, supports_vision=True),
    CohereModel("rerank-v3.5", ("rerank",), 4096, default_endpoints=("rerank",)),
    CohereModel("rerank-english-v3.0", ("rerank",), 4096),
    CohereModel("rerank-multilingual-v3.0", ("rerank",), 4096),
)
_BY_NAME = {model.name: model for model in MODELS}


# --- errors -------------------------------------------------------------------------------------


class CohereAPIError(Exception):
    """A Cohere error response: status, `{"id", "message"}` body and optional extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.id = str(uuid.uuid4())

    def body(self) -> JSON:
        return {"id": self.id, "message": self.message}


def _invalid(detail: str) -> CohereAPIError:
    return CohereAPIError(400, f"invalid request: {detail}")


def model_not_found(model: str) -> CohereAPIError:
    detail = "make sure the correct model ID was used and that you have access to the model."
    return CohereAPIError(404, f"model '{model}' not found, {detail}")


def page_not_found() -> CohereAPIError:
    return CohereAPIError(404, "404 page not found")


_INPUT_TYPE_MESSAGE = "valid input_type must be provided with the provided model"


def fault_status(status: int, model: str, path: str) -> CohereAPIError:
    """The error Cohere sends with `status` (used by the `fault-status-<code>` models)."""
    if status == 400:
        return _invalid("list of documents must not be empty" if path == "/v2/rerank" else _INPUT_TYPE_MESSAGE)
    if status == 404:
        return model_not_found(model)
    messages = {
        401: "invalid api token",
        402: "Please add or update your payment method at https://dashboard.cohere.com/billing?tab=payment to continue",
        429: "You are past the per minute request limit, please wait and try again later.",
        499: "request cancelled",
        500: "internal server error, this has been reported to our developers",
        503: "service unavailable: the model is overloaded, please try again later",
        504: "gateway timeout: the request took too long to process",
    }
    return CohereAPIError(status, messages.get(status, f"Injected fault: HTTP {status}."))


# --- request helpers ----------------------------------------------------------------------------


def _positive_int(body: JSON, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _invalid(f"{name} must be a positive integer, received {msgspec.json.encode(value).decode()}")
    return value


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _truncate(text: str, limit: int, mode: str, index: int) -> tuple[str, int]:
    """(text that gets embedded, its token count) after applying `truncate` to an input over `limit` tokens."""
    tokens = word_count(text)
    if tokens <= limit:
        return text, tokens
    if mode == "NONE":
        raise CohereAPIError(
            400,
            f"too many tokens: input at index {index} has {tokens} tokens, which exceeds the maximum of {limit} "
            "tokens. Try using a shorter input, or setting truncate to START or END.",
        )
    words = _words(text)
    kept = words[-limit:] if mode == "START" else words[:limit]
    return " ".join(kept), limit


def _image_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, bit depth) from a PNG, GIF or JPEG header; zeros when the format is not parsed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 25:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height), data[24]
    if data[:4] == b"GIF8" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height), 8
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 <= len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return int(width), int(height), data[index + 4]
            if marker == 0xD8 or marker == 0x01 or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                index += 2 if marker != 0xFF else 1
                continue
            index += 2 + int(struct.unpack(">H", data[index + 2 : index + 4])[0])
    return 0, 0, 0


def _image(uri: Any, where: str) -> tuple[bytes, JSON]:
    """(hash key, response `images` entry) of an image data URI."""
    match = _DATA_URI.fullmatch(uri) if isinstance(uri, str) else None
    data = b""
    if match is not None:
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            match = None
    if match is None or not data:
        raise _invalid(
            f"{where} must be a valid data URI of type image/jpeg, image/png, image/webp or image/gif, "
            "encoded in base64"
        )
    width, height, depth = _image_info(data)
    info = {"width": width, "height": height, "format": match.group(1), "bit_depth": depth}
    return hashlib.sha256(data).digest(), info


# --- embed --------------------------------------------------------------------------------------


@dataclass
class _EmbedPlan:
    keys: list[bytes] = field(default_factory=list)
    tokens: int = 0
    images: list[JSON] = field(default_factory=list)
    image_count: int = 0


def _embedding_types(value: Any) -> list[str]:
    if value is None:
        return ["float"]
    if not isinstance(value, list) or not value:
        raise CohereAPIError(400, "embedding_types parameter is required")
    for index, kind in enumerate(value):
        if kind not in EMBEDDING_TYPES:
            raise _invalid(
                f"embedding_types at index {index} must be one of float, int8, uint8, binary, ubinary or base64, "
                f"received {msgspec.json.encode(kind).decode()}"
            )
    return list(dict.fromkeys(value))


def _output_dimension(body: JSON, model: CohereModel) -> int:
    value = body.get("output_dimension")
    if value is None:
        return model.dimensions
    if not model.output_dimensions:
        raise _invalid(f"output_dimension is not supported for model '{model.name}'")
    if value not in model.output_dimensions or isinstance(value, bool):
        allowed = ", ".join(map(str, model.output_dimensions))
        raise _invalid(f"output_dimension must be one of [{allowed}], received {msgspec.json.encode(value).decode()}")
    return int(value)


def _string_list(body: JSON, name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{name} must be an array of strings")
    return value


def _plan_embed(body: JSON, model: CohereModel, input_type: str) -> _EmbedPlan:
    texts = _string_list(body, "texts")
    images = _string_list(body, "images")
    inputs = body.get("inputs")
    if inputs is not None and (not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs)):
        raise _invalid("inputs must be an array of objects")
    if not (texts or images or inputs):
        raise _invalid("one of texts, images or inputs must be provided")
    for name, items in (("texts", texts), ("inputs", inputs)):
        if items and len(items) > MAX_TEXTS:
            raise _invalid(f"total number of {name} must be at most {MAX_TEXTS} - received {len(items)}")
    truncate = body.get("truncate", "END")
    if truncate not in TRUNCATE_MODES:
        raise _invalid("truncate must be one of 'NONE', 'START' or 'END'")
    max_tokens = _positive_int(body, "max_tokens")
    limit = min(max_tokens or model.context_length, model.context_length)
    prefix = f"cohere:{model.name}:{input_type}:".encode()
    plan = _EmbedPlan()
    for index, text in enumerate(texts or []):
        if not text:
            raise _invalid(f"inputs contains an element that is the empty string at index {index}")
        embedded, tokens = _truncate(text, limit, str(truncate), index)
        plan.keys.append(prefix + b"text:" + embedded.encode())
        plan.tokens += tokens
    if images:
        _plan_images(plan, images, model, input_type, prefix)
    for index, item in enumerate(inputs or []):
        _plan_input(plan, item, index, limit, str(truncate), prefix)
    return plan


def _plan_images(plan: _EmbedPlan, images: list[str], model: CohereModel, input_type: str, prefix: bytes) -> None:
    if input_type != "image":
        raise _invalid("images must be used with input_type=image")
    if model.max_images is not None and len(images) > model.max_images:
        raise _invalid(f"total number of images must be at most {model.max_images} - received {len(images)}")
    for index, uri in enumerate(images):
        digest, info = _image(uri, f"image at index {index}")
        plan.keys.append(prefix + b"image:" + digest)
        plan.images.append(info)
        plan.image_count += 1


def _plan_input(plan: _EmbedPlan, item: JSON, index: int, limit: int, truncate: str, prefix: bytes) -> None:
    content = item.get("content")
    if not isinstance(content, list) or not content:
        raise _invalid(f"input at index {index} must have a non-empty content array")
    key = hashlib.sha256()
    texts: list[str] = []
    for part_index, part in enumerate(content):
        where = f"inputs[{index}].content[{part_index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and part["text"]:
            texts.append(part["text"])
            key.update(b"text:" + part["text"].encode() + b"\0")
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            digest, _ = _image(part["image_url"].get("url"), f"{where}.image_url.url")
            key.update(b"image:" + digest + b"\0")
            plan.image_count += 1
        else:
            raise _invalid(f"{where} must be a text part with a non-empty text or an image_url part with a url")
    if texts:
        _, tokens = _truncate(" ".join(texts), limit, truncate, index)
        plan.tokens += tokens
    plan.keys.append(prefix + b"input:" + key.digest())


def _encode(vector: list[float], kind: str) -> Any:
    if kind == "float":
        return vector
    if kind == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    if kind in ("int8", "uint8"):
        scale = 127.0 / (max(abs(v) for v in vector) or 1.0)
        signed = [max(-128, min(127, round(v * scale))) for v in vector]
        return signed if kind == "int8" else [v + 128 for v in signed]
    packed = [
        sum(1 << (7 - bit) for bit, v in enumerate(vector[start : start + 8]) if v > 0)
        for start in range(0, len(vector), 8)
    ]
    return packed if kind == "ubinary" else [v - 128 for v in packed]


def embed(body: JSON, model: CohereModel) -> JSON:
    """Validate a `POST /v2/embed` body and build Cohere's `embeddings_by_type` response."""
    input_type = body.get("input_type")
    if input_type not in INPUT_TYPES:
        raise _invalid(_INPUT_TYPE_MESSAGE)
    kinds = _embedding_types(body.get("embedding_types"))
    dims = _output_dimension(body, model)
    plan = _plan_embed(body, model, str(input_type))
    vectors = [embedding_vector(key, dims) for key in plan.keys]
    billed: JSON = {"input_tokens": plan.tokens}
    if plan.image_count:
        billed["images"] = plan.image_count
    response: JSON = {"id": str(uuid.uuid4()), "texts": body.get("texts") or []}
    if plan.images:
        response["images"] = plan.images
    response["embeddings"] = {kind: [_encode(v, kind) for v in vectors] for kind in kinds}
    response["meta"] = {"api_version": API_VERSION, "billed_units": billed}
    response["response_type"] = "embeddings_by_type"
    return response


# --- rerank -------------------------------------------------------------------------------------


def rerank(body: JSON) -> JSON:
    """Validate a `POST /v2/rerank` body and rank the documents by `relevance.relevance`, best first."""
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _invalid("query must not be empty or be only whitespace")
    documents = body.get("documents")
    if documents is None or documents == []:
        raise _invalid("list of documents must not be empty")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise _invalid("documents must be an array of strings")
    for index, document in enumerate(documents):
        if not document.strip():
            raise _invalid(f"document at index {index} cannot be empty")
    top_n = _positive_int(body, "top_n")
    limit = _positive_int(body, "max_tokens_per_doc") or DEFAULT_MAX_TOKENS_PER_DOC
    scored = []
    for index, document in enumerate(documents):
        seen = document if word_count(document) <= limit else " ".join(_words(document)[:limit])
        scored.append((relevance(query, seen), index))
    scored.sort(key=lambda item: (-item[0], item[1]))
    results = [{"index": index, "relevance_score": score} for score, index in scored[:top_n]]
    units = math.ceil(len(documents) / DOCUMENTS_PER_SEARCH_UNIT)
    return {
        "id": str(uuid.uuid4()),
        "results": results,
        "meta": {"api_version": API_VERSION, "billed_units": {"search_units": units}},
    }


# --- chat ---------------------------------------------------------------------------------------

CHAT_FIELDS = frozenset({
    "model", "messages", "stream", "tools", "strict_tools", "documents", "citation_options", "response_format",
    "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed", "frequency_penalty", "presence_penalty",
    "k", "p", "logprobs", "tool_choice", "thinking", "priority",
})
MAX_STOP_SEQUENCES = 5
TEMPLATE_TOKENS = 3
"""Tokens Cohere's prompt template adds per turn, counted in `usage.tokens` but not billed (as a reply's
end-of-turn token is)."""
_RANGES = {"temperature": (0, 1.0), "p": (0.01, 0.99), "k": (0, 500), "frequency_penalty": (0, 1.0),
           "presence_penalty": (0, 1.0)}
_PIECE = re.compile(r"\s*\S+|\s+")
_ASSIGNMENT = re.compile(r"(\w+)=(\S+)")
_SAMPLES: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
_ERROR_TEXT = "internal server error, this has been reported to our developers"
_MESSAGE_FIELDS = {"user": {"role", "content"}, "system": {"role", "content"},
                   "tool": {"role", "tool_call_id", "content"},
                   "assistant": {"role", "content", "tool_plan", "tool_calls", "citations"}}


def _known_fields(obj: JSON, known: frozenset[str] | set[str]) -> None:
    """Cohere answers 422 for a field it does not know, at any depth (OpenAI's `strict` in a tool, say)."""
    unknown = sorted(set(obj) - known)
    if unknown:
        raise CohereAPIError(422, f"unknown field: parameter '{unknown[0]}' is not a valid field. For proper usage, "
                             "please refer to https://docs.cohere.com/reference/chat")


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _pieces(text: str) -> list[str]:
    """The tokens of a reply: whitespace-separated pieces, each with the whitespace before it."""
    return _PIECE.findall(text)


@dataclass
class _Prompt:
    words: int = 0
    template: int = TEMPLATE_TOKENS  # the reply's turn is templated too
    last: str = ""
    last_role: str = ""
    calls: set[str] = field(default_factory=set)


def _text_of(content: Any, at: str, model: CohereModel, kinds: tuple[str, ...]) -> str:
    """The text of a message's content; `kinds` are the block types besides text that it may hold."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid(f"{at}.content must be a string or an array of content blocks")
    texts: list[str] = []
    for index, part in enumerate(content):
        where = f"{at}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and "image_url" in kinds and isinstance(part.get("image_url"), dict):
            if not model.supports_vision:
                raise _invalid(f"model '{model.name}' does not support image inputs")
            url = part["image_url"].get("url")
            if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                _image(url, f"{where}.image_url.url")
        elif kind == "document" and "document" in kinds and isinstance(part.get("document"), dict):
            texts.append(_json(part["document"]))
        elif kind == "thinking" and "thinking" in kinds and isinstance(part.get("thinking"), str):
            texts.append(part["thinking"])
        else:
            raise _invalid(f"{where} must be a content block of a type this message takes")
    return " ".join(texts)


def _assistant_text(message: JSON, at: str, model: CohereModel, prompt: _Prompt) -> str:
    calls = message.get("tool_calls") or []
    for index, call in enumerate(calls if isinstance(calls, list) else [None]):
        function = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(function, dict) and isinstance(call.get("id"), str) and function.get("name")
                and isinstance(function.get("arguments"), str)):
            raise _invalid(f"{at}.tool_calls[{index}] must have an id and a function with a name and arguments")
        try:
            arguments = msgspec.json.decode(function["arguments"])
        except msgspec.DecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            raise _invalid(f"{at}.tool_calls[{index}].function.arguments must be a JSON object")
        prompt.calls.add(call["id"])
    content = message.get("content")
    text = "" if content is None else _text_of(content, at, model, ("thinking",))
    if not calls and not text:
        raise CohereAPIError(400, "message must not be empty in a turn")
    plan = message.get("tool_plan")
    return " ".join(t for t in (plan if isinstance(plan, str) else "", text) if t)


def read_messages(body: JSON, model: CohereModel) -> _Prompt:
    """Validate `messages`: roles, content blocks, and tool results answering earlier tool calls."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages must be a non-empty array")
    prompt = _Prompt()
    for index, message in enumerate(messages):
        at = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if isinstance(message, dict) and role in _MESSAGE_FIELDS:
            _known_fields(message, _MESSAGE_FIELDS[str(role)])
        if role == "user":
            text = _text_of(message.get("content"), at, model, ("image_url",))
        elif role == "system":
            text = _text_of(message.get("content"), at, model, ())
        elif role == "assistant":
            text = _assistant_text(message, at, model, prompt)
        elif role == "tool":
            if message.get("tool_call_id") not in prompt.calls:
                raise _invalid(f"{at}.tool_call_id must be the id of an earlier tool call")
            text = _text_of(message.get("content"), at, model, ("document",))
        else:
            raise _invalid(f"{at}.role must be one of 'user', 'assistant', 'system' or 'tool'")
        prompt.words += word_count(text)
        prompt.template += TEMPLATE_TOKENS
        if role in ("user", "tool"):
            prompt.last, prompt.last_role = text, str(role)
    return prompt


@dataclass
class ChatSettings:
    """What a `/v2/chat` body asks for besides its messages."""

    tools: list[JSON]
    choice: str | None
    json_schema: JSON | None
    json_mode: bool
    max_tokens: int | None
    stops: list[str]
    thinking: bool
    token_budget: int | None


def _read_tools(body: JSON) -> list[JSON]:
    tools = body.get("tools") or []
    functions = []
    for index, tool in enumerate(tools if isinstance(tools, list) else [None]):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not (isinstance(function, dict) and tool.get("type", "function") == "function"
                and isinstance(function.get("name"), str) and function["name"]
                and isinstance(function.get("parameters"), dict)):
            raise _invalid(f"tools[{index}] must be a function with a name and parameters")
        _known_fields(tool, {"type", "function"})
        _known_fields(function, {"name", "description", "parameters"})
        functions.append(function)
    return functions


def _read_thinking(body: JSON) -> tuple[bool, int | None]:
    """(whether a reasoning model thinks, its `token_budget`): Cohere's reasoning models think by default."""
    thinking = body.get("thinking")
    if thinking is None:
        return True, None
    if isinstance(thinking, dict):
        _known_fields(thinking, {"type", "token_budget"})
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
        raise _invalid("thinking.type must be one of 'enabled' or 'disabled'")
    return thinking["type"] == "enabled", _positive_int(thinking, "token_budget")


def read_settings(body: JSON) -> ChatSettings:
    """Validate everything in a `/v2/chat` body but the messages."""
    _known_fields(body, CHAT_FIELDS)
    for name, (low, high) in _RANGES.items():
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not low <= value <= high):
            raise _invalid(f"{name} must be between {low} and {high} inclusive.")
    tools = _read_tools(body)
    choice = body.get("tool_choice")
    if choice not in (None, "REQUIRED", "NONE"):
        raise _invalid("tool_choice must be one of 'REQUIRED' or 'NONE'")
    if choice == "REQUIRED" and not tools:
        raise _invalid("tool_choice REQUIRED needs tools to be specified")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object")
                            or (fmt.get("type") == "text" and "json_schema" in fmt)):
        raise _invalid("response_format must be {\"type\": \"text\"} or {\"type\": \"json_object\"} with an "
                       "optional json_schema")
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or len(stops) > MAX_STOP_SEQUENCES or not all(isinstance(x, str) for x in stops):
        raise _invalid(f"stop_sequences must be an array of at most {MAX_STOP_SEQUENCES} strings")
    if not isinstance(body.get("stream", False), bool):
        raise _invalid("stream must be a boolean")
    json_mode = isinstance(fmt, dict) and fmt.get("type") == "json_object"
    schema = fmt.get("json_schema") if json_mode and isinstance(fmt, dict) else None
    return ChatSettings(tools, choice, schema if isinstance(schema, dict) else None, json_mode,
                        _positive_int(body, "max_tokens"), stops, *_read_thinking(body))


def _sample(schema: Any, given: dict[str, str], name: str = "") -> Any:
    """A value fitting a JSON schema: `given[name]` converted to the schema's type, else a plain default."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "object" or (kind is None and isinstance(schema, dict) and "properties" in schema):
        properties = schema.get("properties") or {}
        return {key: _sample(spec, given, key) for key, spec in properties.items()}
    raw = given.get(name)
    if raw is None:
        return _SAMPLES.get(str(kind))
    if kind in ("integer", "number"):
        try:
            return int(raw) if kind == "integer" else float(raw)
        except ValueError:
            return _SAMPLES[kind]
    return raw == "true" if kind == "boolean" else raw


@dataclass
class ChatPlan:
    """One reply, complete: its thinking, if any; its text, or its tool plan and calls; the finish reason and the
    token counts."""

    text: str
    tool_plan: str
    calls: list[JSON]
    finish: str
    input_tokens: int
    output_tokens: int
    template: int
    thinking: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def usage(self) -> JSON:
        billed = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        tokens = {"input_tokens": self.input_tokens + self.template, "output_tokens": self.output_tokens + 1}
        return {"billed_units": billed, "tokens": tokens}


def _tool_calls(body: JSON, prompt: _Prompt, settings: ChatSettings) -> list[JSON]:
    if not settings.tools or settings.choice == "NONE" or prompt.last_role != "user":
        return []
    named = [f for f in settings.tools if re.search(rf"\b{re.escape(f['name'])}\b", prompt.last)]
    given = dict(_ASSIGNMENT.findall(prompt.last))
    key = hashlib.sha256(msgspec.json.encode([body.get("messages"), settings.tools])).hexdigest()
    calls = []
    for index, function in enumerate(named or (settings.tools[:1] if settings.choice == "REQUIRED" else [])):
        arguments = _json(_sample(function["parameters"], given))
        suffix = base64.b32encode(bytes.fromhex(key[index * 2 : index * 2 + 16])).decode().lower()[:12]
        calls.append({"id": f"{function['name']}_{suffix}", "type": "function",
                      "function": {"name": function["name"], "arguments": arguments}})
    return calls


def plan_chat(body: JSON, model: CohereModel) -> ChatPlan:
    """Validate a `/v2/chat` body and decide the whole reply (streamed or not, it is the same)."""
    settings = read_settings(body)
    prompt = read_messages(body, model)
    prompt_tokens = prompt.words + sum(word_count(_json(f)) for f in settings.tools)
    if prompt_tokens + prompt.template > model.context_length:
        raise CohereAPIError(400, f"too many tokens: total number of tokens in the prompt cannot exceed "
                             f"{model.context_length} - received {prompt_tokens + prompt.template}. Try using a "
                             "shorter prompt, or enabling prompt truncating. See "
                             "https://docs.cohere.com/reference/generate for more details.")
    thought = _pieces(f"The {prompt.last_role} said: {prompt.last}") if model.reasoning and settings.thinking else []
    thought = thought[: settings.token_budget]
    thinking = "".join(thought)
    calls = _tool_calls(body, prompt, settings)
    if calls:
        plan = f"I will use {', '.join(c['function']['name'] for c in calls)} to answer this."
        words = word_count(plan) + sum(word_count(c["function"]["arguments"]) for c in calls)
        return ChatPlan("", plan, calls, "TOOL_CALL", prompt_tokens, words + len(thought), prompt.template, thinking)
    text = f"echo: {prompt.last}"
    if settings.json_mode:
        text = _json(_sample(settings.json_schema, dict(_ASSIGNMENT.findall(prompt.last))) if settings.json_schema
                     else {"echo": prompt.last})
    finish = "COMPLETE"
    cuts = [text.find(stop) for stop in settings.stops if stop and stop in text]
    if cuts:
        text, finish = text[: min(cuts)], "STOP_SEQUENCE"
    pieces = _pieces(text)
    if settings.max_tokens is not None and len(pieces) > settings.max_tokens:
        pieces, finish = pieces[: settings.max_tokens], "MAX_TOKENS"
    return ChatPlan("".join(pieces), "", [], finish, prompt_tokens, len(pieces) + len(thought), prompt.template,
                    thinking)


def chat_response(plan: ChatPlan) -> JSON:
    """The non-streamed `/v2/chat` response."""
    message: JSON = {"role": "assistant"}
    content = [{"type": "thinking", "thinking": plan.thinking}] if plan.thinking else []
    if plan.calls:
        message.update(tool_plan=plan.tool_plan, tool_calls=plan.calls)
    else:
        content.append({"type": "text", "text": plan.text})
    if content:
        message["content"] = content
    return {"id": plan.id, "message": message, "finish_reason": plan.finish, "usage": plan.usage()}


def chat_events(plan: ChatPlan) -> list[JSON]:
    """The streamed `/v2/chat` events, `message-start` to `message-end`."""
    empty = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    events: list[JSON] = [{"id": plan.id, "type": "message-start", "delta": {"message": empty}}]
    if plan.thinking:
        events += _content_events(0, "thinking", plan.thinking)
    if plan.calls:
        events += [{"type": "tool-plan-delta", "delta": {"message": {"tool_plan": p}}} for p in _pieces(plan.tool_plan)]
        for index, call in enumerate(plan.calls):
            arguments = call["function"]["arguments"]
            start = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}})
            events += [{"type": "tool-call-delta", "index": index,
                        "delta": {"message": {"tool_calls": {"function": {"arguments": arguments[i : i + 8]}}}}}
                       for i in range(0, len(arguments), 8)]
            events.append({"type": "tool-call-end", "index": index})
    else:
        events += _content_events(1 if plan.thinking else 0, "text", plan.text)
    events.append({"type": "message-end", "delta": {"finish_reason": plan.finish, "usage": plan.usage()}})
    return events


def _content_events(index: int, kind: str, text: str) -> list[JSON]:
    """One streamed content item of `kind` (`text` or `thinking`): its start, a delta per piece, its end."""
    start = {"type": "content-start", "index": index, "delta": {"message": {"content": {"type": kind, kind: ""}}}}
    deltas = [{"type": "content-delta", "index": index, "delta": {"message": {"content": {kind: p}}}}
              for p in _pieces(text)]
    return [start, *deltas, {"type": "content-end", "index": index}]


def failed_events(plan: ChatPlan) -> list[JSON]:
    """A stream that Cohere ends with `ERROR` after two text deltas."""
    end = {"type": "message-end", "delta": {"error": _ERROR_TEXT, "finish_reason": "ERROR", "usage": plan.usage()}}
    return [*chat_events(plan)[:4], end]


def sse_event(payload: JSON) -> bytes:
    """One event as Cohere frames it: `event: <type>` then `data: <json>`."""
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + msgspec.json.encode(payload) + b"\n\n"


# --- models -------------------------------------------------------------------------------------


def _page_offset(token: str | None) -> int:
    if token is None or token == "":
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("offset:"))
    except (ValueError, binascii.Error):
        raise _invalid("page_token is invalid") from None
    if offset < 0:
        raise _invalid("page_token is invalid")
    return offset


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def models_list(query: str) -> JSON:
    """`GET /v1/models` with its `page_size`, `page_token`, `endpoint` and `default_only` query parameters."""
    params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
    try:
        size_value = float(params.get("page_size", DEFAULT_PAGE_SIZE))
    except ValueError:
        size_value = 0.0
    if not 1 <= size_value <= 1000 or size_value != int(size_value):
        raise _invalid("page_size must be an integer between 1 and 1000")
    endpoint = params.get("endpoint")
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise _invalid(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    default_only = params.get("default_only", "false").lower()
    if default_only not in ("true", "false"):
        raise _invalid("default_only must be a boolean")
    if default_only == "true" and endpoint is None:
        raise _invalid("default_only is only valid when endpoint is provided")
    chosen = [m for m in MODELS if endpoint is None or endpoint in m.endpoints]
    if default_only == "true":
        chosen = [m for m in chosen if endpoint in m.default_endpoints]
    offset, size = _page_offset(params.get("page_token")), int(size_value)
    result: JSON = {"models": [m.wire() for m in chosen[offset : offset + size]]}
    if offset + size < len(chosen):
        result["next_page_token"] = _page_token(offset + size)
    return result


def model_object(name: str) -> JSON:
    model = _BY_NAME.get(name)
    if model is None:
        raise model_not_found(name)
    return model.wire()


# --- the server ---------------------------------------------------------------------------------


class _Fault(msgspec.Struct, frozen=True):
    kind: str
    value: float = 0.0


def _parse_fault(model: str) -> _Fault | None:
    match = _FAULT.fullmatch(model)
    if match is None:
        return None
    if match.group(3):
        return _Fault(match.group(3))
    return _Fault(match.group(1), float(match.group(2)))


class _Exchange:
    """Response side of one HTTP exchange, with the headers Cohere puts on every response."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.trace_id = uuid.uuid4().hex

    async def start(self, status: int, content_type: str, headers: dict[str, str], length: int | None) -> None:
        raw = [
            (b"content-type", content_type.encode()),
            (b"x-debug-trace-id", self.trace_id.encode()),
            (b"x-envoy-upstream-service-time", b"7"),
        ]
        if length is not None:  # a stream goes chunked
            raw.append((b"content-length", str(length).encode()))
        raw += [(k.encode(), v.encode()) for k, v in headers.items()]
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def body(self, data: bytes, more: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = msgspec.json.encode(payload)
        await self.start(status, "application/json", headers or {}, len(body))
        await self.body(body)

    async def error(self, err: CohereAPIError) -> None:
        await self.json(err.status, err.body(), err.headers)


class FakeCohere:
    """The fake Cohere server; also usable as `with FakeCohere() as fake:`."""

    def __init__(self, api_key: str = "co-fake-upstream-key") -> None:
        self.api_key = api_key
        self.retry_after: str | None = None  # sent with fault-status-429 when set (Cohere sends none)
        self.requests: list[RecordedRequest] = []
        self._disconnects = 0
        self._cond = threading.Condition()
        self._server = ThreadedASGIServer(self, name="fake-cohere")

    # --- lifecycle and inspection ---------------------------------------------------------------

    def start(self) -> FakeCohere:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeCohere:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def organization_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-cohere-organization:{self.api_key}"))

    @property
    def owner_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-cohere-owner:{self.api_key}"))

    @property
    def disconnects(self) -> int:
        with self._cond:
            return self._disconnects

    def wait_for_disconnect(self, timeout: float = 5.0, count: int = 1) -> bool:
        """True once at least `count` client disconnects (mid-stall) were seen since `clear()`."""
        with self._cond:
            return self._cond.wait_for(lambda: self._disconnects >= count, timeout)

    def clear(self) -> None:
        with self._cond:
            self.requests.clear()
            self._disconnects = 0
        self.retry_after = None

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)

    def _count_disconnect(self) -> None:
        with self._cond:
            self._disconnects += 1
            self._cond.notify_all()

    # --- ASGI entry point -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        self._record(_recorded(scope, body))
        exchange = _Exchange(receive, send)
        try:
            await self._dispatch(exchange, scope, body)
        except CohereAPIError as err:
            await exchange.error(err)

    async def _dispatch(self, ex: _Exchange, scope: Scope, body: bytes) -> None:
        method, path = str(scope["method"]), str(scope["path"])
        name = path.removeprefix("/v1/models/") if path.startswith("/v1/models/") else None
        allowed = _ROUTES.get(path) or ("GET" if name else None)
        if allowed is None:
            raise page_not_found()
        self._authenticate(scope)
        if method != allowed:
            raise CohereAPIError(405, "405 method not allowed", {"allow": allowed})
        if path == "/v1/models":
            await ex.json(200, models_list(scope.get("query_string", b"").decode("latin-1")))
        elif name is not None:
            await ex.json(200, model_object(name))
        elif path == "/v1/check-api-key":
            await ex.json(200, {"valid": True, "organization_id": self.organization_id, "owner_id": self.owner_id})
        else:
            await self._post(ex, path, _decode(body))

    def _authenticate(self, scope: Scope) -> None:
        header = _headers(scope).get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise CohereAPIError(401, "no api key supplied")
        if key != self.api_key:
            raise CohereAPIError(401, "invalid api token")

    async def _post(self, ex: _Exchange, path: str, body: JSON) -> None:
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise CohereAPIError(400, "a model parameter is required for this endpoint.")
        fault = _parse_fault(name)
        if fault is not None and fault.kind == "status":
            error = fault_status(_status(fault.value, name), name, path)
            if error.status == 429 and self.retry_after is not None:
                error.headers["retry-after"] = self.retry_after
            raise error
        endpoint = _ENDPOINTS[path]
        model = _BY_NAME.get(name)
        if fault is not None:
            model = CohereModel(name, ("chat", "embed", "rerank"), 4096, 1024)
        if model is None:
            raise model_not_found(name)
        if endpoint not in model.endpoints:
            raise _invalid(f"model '{name}' is not supported by the {endpoint} API")
        if fault is not None and fault.kind == "stall" and not await sleep_unless_disconnected(ex.receive, fault.value):
            self._count_disconnect()  # the client gave up while we stalled
            return
        if endpoint == "chat":
            plan = plan_chat(body, model)
            if body.get("stream"):
                await self._stream(ex, plan, fault)
                return
            payload = chat_response(plan)
            if fault is not None and fault.kind == "error":
                payload["finish_reason"] = "ERROR"
        else:
            payload = embed(body, model) if endpoint == "embed" else rerank(body)
        await self._respond(ex, payload, fault)

    async def _stream(self, ex: _Exchange, plan: ChatPlan, fault: _Fault | None) -> None:
        kind = fault.kind if fault is not None else None
        if kind == "garbage":
            await self._respond(ex, {}, fault)
            return
        events = failed_events(plan) if kind == "error" else chat_events(plan)
        await ex.start(200, "text/event-stream", {}, None)
        for index, payload in enumerate(events):
            if kind == "cut" and fault is not None and index >= fault.value:
                raise AbortConnection(f"fault-cut: dropped the connection after {index} events")
            await ex.body(sse_event(payload), more=True)
        await ex.body(b"")

    async def _respond(self, ex: _Exchange, payload: JSON, fault: _Fault | None) -> None:
        kind = fault.kind if fault is not None else None
        if kind == "garbage":
            await ex.start(200, "text/html; charset=utf-8", {}, len(_GARBAGE))
            await ex.body(_GARBAGE)
        elif kind == "cut":
            body = msgspec.json.encode(payload)
            await ex.start(200, "application/json", {}, len(body))
            await ex.body(body[: len(body) // 2], more=True)
            raise AbortConnection("fault-cut: dropped the connection mid-body")
        else:
            await ex.json(200, payload)


def _status(value: float, model: str) -> int:
    status = int(value)
    if status != value or not 400 <= status <= 599:
        raise model_not_found(model)
    return status


def _decode(body: bytes) -> JSON:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as err:
        raise CohereAPIError(400, f"invalid json syntax: {err}") from None
    if not isinstance(decoded, dict):
        raise CohereAPIError(400, "invalid json syntax: the request body must be a JSON object")
    return decoded


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _recorded(scope: Scope, body: bytes) -> RecordedRequest:
    query = scope.get("query_string", b"").decode("latin-1")
    return RecordedRequest(str(scope["method"]), str(scope["path"]), _headers(scope), body, query)
