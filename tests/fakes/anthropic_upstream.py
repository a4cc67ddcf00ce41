"""A faithful fake of Anthropic's Messages API (Claude) for tests: `FakeAnthropic`.

A raw ASGI 3 application on `upstream_kit`; `base_url` is the server root, like the SDK's
`https://api.anthropic.com`. Every route wants the API key (`x-api-key: <key>`, or `Authorization: Bearer <key>` as
the anthropic 2.x SDK sends it) and an `anthropic-version: YYYY-MM-DD` header (any date: the SDK sends its own):

* `POST /v1/messages` → a `message` object; with `stream: true`, SSE events `event: <type>\\ndata: <json>\\n\\n`
  (one ASGI send each): message_start, then per content block content_block_start, content_block_delta...,
  content_block_stop (a `ping` follows the first content_block_start), then message_delta and message_stop.
* `POST /v1/messages/count_tokens` → `{"input_tokens": N}` (the same prompt validation, no `max_tokens`).
* `GET /v1/models` (`limit` 1-1000, default 20; `after_id` / `before_id` cursors; `lifecycle[]`; newest first) →
  `{data, has_more, first_id, last_id}`; `GET /v1/models/{id}` (an alias answers its dated model).

Models: `MODELS` (dated ids, each with its alias: claude-opus-4-5, claude-haiku-4-5, claude-sonnet-4-5,
claude-opus-4-1, claude-3-5-haiku-latest; opus-4-5 and sonnet-4-5 `deprecated`, as the SDK's deprecation table has
them); an alias answers with its dated id as `model`. Any other `claude-*` id is accepted by the message routes
(echoed as given, not listed); anything else is 404 `model: <id>`.

Replies are deterministic; tokens are `openai_wire.words` (whitespace-separated words), as in the other chat fakes:

* Text: `"echo: " + <the last user turn's text blocks, joined by a space>`, plus ` [images: N]` / ` [documents: N]`;
  a user turn with `tool_result` blocks answers `"results: <tool> returned <text>; ..."` (`failed` for `is_error`).
  As the API documents, consecutive same-role messages are one turn; a final assistant message is a prefill that the
  reply follows (without repeating it); an assistant first message is accepted (the first-party API does, Bedrock
  does not). `stop_sequences` cut the text before the earliest match (stop_reason `stop_sequence`, `stop_sequence`
  set); `max_tokens` keeps that many words (stop_reason `max_tokens`); `max_tokens: 0` answers no content.
* Tools (client tools: no `type`, or `custom`): under tool_choice `auto` (the default) every tool whose name is a
  word of the last user text is called, in declaration order, after a text block `I'll use <names>.`; a
  `tool_result` turn answers text. `any` calls the named tools, else the first; `{type: tool, name}` calls that one;
  `none` calls none. As the real API prefills the turn under `any` / `tool`, those replies have no text block.
  `disable_parallel_tool_use` keeps the first call. Each call is a `tool_use` block (`toolu_01<22 base62>`) whose
  `input` is `gemini_upstream.sample(input_schema, ...)`, so `<property>=<value>` in the user text fills that
  property (else its default, first enum, "example", 1, 1.5, true, ...), as with `FakeGemini`; stop_reason
  `tool_use`. `max_tokens` (but for 0) and stop sequences do not cut tool calls.
* Usage: input tokens are the words of the system prompt, text, thinking and tool_result text, the `json.dumps` words
  of each tool definition and tool_use input, `IMAGE_TOKENS` per image and `DOCUMENT_TOKENS` per non-text document;
  output tokens the words of the text blocks plus the `json.dumps` words of each tool input. Prompt caching
  follows the API's prefix order (tools, system, messages): a block with `cache_control` (or the last block, for a
  top-level `cache_control`) is a breakpoint; the first request with a prefix (per model) writes it
  (`cache_creation_input_tokens`, split by `ttl` in `cache_creation`), later ones read it
  (`cache_read_input_tokens`); `input_tokens` counts what follows the last breakpoint. Unlike the API there is no
  minimum cacheable length; `clear()` empties the cache.
* Streams: text in deltas of `CHUNK_WORDS` words; a tool input as an empty `input_json_delta`, then `json.dumps`
  of the input in 3 pieces. message_start carries the input usage (output_tokens 1, or 0 with no content),
  message_delta the cumulative totals.
* Thinking: with `thinking` `enabled` or `adaptive` on a thinking model (not claude-3-5-haiku), the reply starts with
  a `thinking` block `Let me think about <the last user text>.` (empty under `display: omitted`), signed: its
  `signature` is an HMAC of the text under this fake's key, so a block sent back changed is a 400 `Invalid
  `signature` in `thinking` block`, as the API's is. Its words are output tokens; streamed, it comes as
  `thinking_delta`s of `CHUNK_WORDS` words and one `signature_delta` before its content_block_stop. As the API
  does, thinking turned on wants the last assistant turn that called tools to start with its thinking block (or a
  `redacted_thinking` one) and thinking turned off refuses thinking blocks in a final assistant prefill; with it on,
  `temperature` other than 1, `top_k`, and `top_p` under 0.95 are 400s. A prompt holding Anthropic's documented
  test string `REDACTED_TRIGGER` answers a `redacted_thinking` block before the thinking block: its `data` is sealed
  (`seal`), billed as output, and checked when it comes back.
* A prompt whose tokens and `max_tokens` together pass the 200,000-token window is a 400 "input length and
  `max_tokens` exceed context limit: ...", as the API answers since Claude 3.7.

Every response carries a `request-id` header (`req_01...`). Errors are `{"type": "error", "error": {"type",
"message"}, "request_id"}` with that id and an `x-should-retry` header; messages are the API's where known
(`x-api-key header is required`, `invalid x-api-key`, `anthropic-version: header is required`, `max_tokens: Field
required`, `messages: at least one message is required`, tool_use/tool_result pairing, ...), else this fake's own
in the same pydantic-like `<path>: <problem>` style.

Faults are chosen by the request's `model` (or the server-wide `fault`), after the key and version checks and, but
for `fault-status`, after the body was validated: `fault-status-<code>` (the API's error type for it: 400
invalid_request_error, 401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error, 413
request_too_large, 429 rate_limit_error with `retry-after: 1`, 500 api_error, 504 timeout_error, 529
overloaded_error), `fault-stall-<seconds>`, `fault-garbage` (200 text/html; streaming, an event whose data is not
JSON), `fault-cut-<n>` (streaming: n events, then the connection drops; otherwise half of the body),
`fault-context` (400 `prompt is too long: N tokens > 200000 maximum`) and `fault-stream-error` (a stream that sends
one text delta, then an `error` event with overloaded_error, as the API does mid-stream; 529 when not streaming).
A fault model answers like an ad-hoc claude model. Every request is recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import msgspec

# Shared with FakeGemini so that one prompt gives the same tool input on both (`name=value` parsing included).
from tests.fakes.gemini_upstream import _assignments, sample
from tests.fakes.openai_wire import pieces, split_in, text_reply, words
from tests.fakes.upstream_kit import FAULT_KINDS, GARBAGE, JSON, Exchange, FakeUpstream, HTTPError, Request, sse

__all__ = ["MODELS", "AnthropicError", "ClaudeModel", "FakeAnthropic"]

MAX_CONTEXT = 200_000
IMAGE_TOKENS = 1600
DOCUMENT_TOKENS = 1500
CHUNK_WORDS = 3
JSON_PIECES = 3
MAX_BREAKPOINTS = 4
ORGANIZATION_ID = "8f7c2e4a-0d6b-4c1e-9a3f-fa4e0a0b1c2d"
_BASE62 = string.ascii_letters + string.digits
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_AD_HOC = re.compile(r"claude-[a-z0-9][a-z0-9.-]*")
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_BLOCK_TYPES = ("text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking")
_COUNT_FIELDS = frozenset({
    "model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "output_config", "speed",
    "mcp_servers", "context_management", "user_profile_id", "workspace_id",
})
_CREATE_FIELDS = _COUNT_FIELDS | {
    "max_tokens", "metadata", "stop_sequences", "stream", "temperature", "top_k", "top_p", "service_tier",
    "container", "inference_geo", "diagnostics",
}
_STREAM_TYPE = "text/event-stream; charset=utf-8"
_SIGNING_KEY = b"fake-anthropic-thinking"
REDACTED_TRIGGER = ("ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_"
                    "46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB")
_THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_ROUTES = {"/v1/messages": "POST", "/v1/messages/count_tokens": "POST", "/v1/models": "GET"}


def _new_id(prefix: str) -> str:
    """An id shaped like the API's: `msg_01...`, `toolu_01...`, `req_01...` (24 characters after the prefix)."""
    return prefix + "01" + "".join(secrets.choice(_BASE62) for _ in range(22))


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaudeModel:
    """One entry of the model catalogue; `thinking` and `effort` shape the `capabilities` it reports."""

    id: str
    display_name: str
    created_at: str
    alias: str = ""
    max_tokens: int = 64000
    thinking: bool = True
    effort: bool = False
    retires_at: str | None = None  # set on a deprecated model

    @property
    def lifecycle(self) -> str:
        return "deprecated" if self.retires_at else "active"

    @property
    def line(self) -> str | None:
        return next((line for line in ("haiku", "sonnet", "opus") if line in self.id), None)

    def capabilities(self) -> JSON:
        def support(flag: bool) -> JSON:
            return {"supported": flag}

        yes, thinks = support(True), support(self.thinking)
        return {
            "batch": yes,
            "citations": yes,
            "code_execution": thinks,
            "context_management": {"clear_thinking_20251015": thinks, "clear_tool_uses_20250919": thinks,
                                   "compact_20260112": support(False), "supported": self.thinking},
            "effort": {level: support(self.effort) for level in ("low", "medium", "high", "max")}
            | {"supported": self.effort},
            "image_input": yes,
            "pdf_input": yes,
            "server_tools": {"code_execution": yes, "supported": True, "web_search": yes},
            "structured_outputs": thinks,
            "thinking": {"supported": self.thinking, "types": {"adaptive": support(False), "between_tools": thinks,
                                                               "disabled": yes, "enabled": thinks}},
        }

    def wire(self) -> JSON:
        return {
            "id": self.id,
            "capabilities": self.capabilities(),
            "created_at": self.created_at,
            "deprecated_at": _DEPRECATED_AT if self.retires_at else None,
            "display_name": self.display_name,
            "lifecycle": self.lifecycle,
            "line": self.line,
            "max_input_tokens": MAX_CONTEXT,
            "max_tokens": self.max_tokens,
            "retires_at": self.retires_at,
            "type": "model",
        }


# Retirement dates as the anthropic SDK's deprecation table has them (it warns on these models); the API's
# `deprecated_at` for them is not public, so the fake reports one assumed date.
_DEPRECATED_AT = "2026-04-01T00:00:00Z"
MODELS: tuple[ClaudeModel, ...] = (  # newest first, as the API lists them
    ClaudeModel("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z", "claude-opus-4-5",
                effort=True, retires_at="2027-01-22T00:00:00Z"),
    ClaudeModel("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", "claude-haiku-4-5"),
    ClaudeModel("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", "claude-sonnet-4-5",
                retires_at="2026-11-30T00:00:00Z"),
    ClaudeModel("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z", "claude-opus-4-1",
                max_tokens=32000),
    ClaudeModel("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z", "claude-3-5-haiku-latest",
                max_tokens=8192, thinking=False),
)
_BY_NAME = {model.id: model for model in MODELS} | {model.alias: model for model in MODELS}


def resolve_model(name: str, faulty: bool) -> ClaudeModel:
    """The model a message request names: a catalogued id or alias, else an ad-hoc `claude-*` (or fault) model."""
    model = _BY_NAME.get(name)
    if model is None and (faulty or _AD_HOC.fullmatch(name)):
        model = ClaudeModel(name, name, "2025-01-01T00:00:00Z")
    if model is None:
        raise model_not_found(name)
    return model


# --- errors -------------------------------------------------------------------------------------


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 504: "timeout_error", 529: "overloaded_error"}


class AnthropicError(HTTPError):
    """An Anthropic error response: `{"type": "error", "error": {"type", "message"}, "request_id"}`; the error
    type follows the status (other 4xx are invalid_request_error, other 5xx api_error)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
        self.request_id = _new_id("req_")
        body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": self.request_id}
        retry = "true" if status in (408, 409, 429) or status >= 500 else "false"
        extra = {"request-id": self.request_id, "x-should-retry": retry} | (headers or {})
        super().__init__(status, msgspec.json.encode(body), "application/json", extra)
        self.kind = kind
        self.message = message


def invalid(message: str) -> AnthropicError:
    return AnthropicError(400, message)


def model_not_found(name: str) -> AnthropicError:
    return AnthropicError(404, f"model: {name}")


def prompt_too_long(tokens: int) -> AnthropicError:
    return invalid(f"prompt is too long: {tokens} tokens > {MAX_CONTEXT} maximum")


def overloaded() -> AnthropicError:
    return AnthropicError(529, "Overloaded")


def _rate_limited() -> AnthropicError:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    headers = {"retry-after": "1", "anthropic-ratelimit-requests-limit": "50",
               "anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}
    return AnthropicError(
        429,
        "This request would exceed your organization's rate limit of 50 requests per minute. For details, refer to: "
        "https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please "
        "reduce the prompt length or the maximum tokens requested, or try again later.",
        headers,
    )


_FAULT_MESSAGES = {
    400: "messages: text content blocks must be non-empty",
    401: "invalid x-api-key",
    402: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or "
    "purchase credits.",
    403: "Your API key does not have permission to use the specified resource.",
    413: "Request exceeds the maximum allowed number of bytes.",
    500: "Internal server error",
    504: "Request timed out",
    529: "Overloaded",
}


def fault_status(status: int, model: str) -> AnthropicError:
    """The error the API sends with `status` (the `fault-status-<code>` models)."""
    if status == 404:
        return model_not_found(model)
    if status == 429:
        return _rate_limited()
    return AnthropicError(status, _FAULT_MESSAGES.get(status, f"Injected fault: HTTP {status}."))


# --- field checks -------------------------------------------------------------------------------


def _object(value: Any, at: str) -> JSON:
    if not isinstance(value, dict):
        raise invalid(f"{at}: Input should be a valid dictionary")
    return value


def _list(value: Any, at: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"{at}: Input should be a valid list")
    return value


def _string(block: JSON, name: str, at: str) -> str:
    if name not in block:
        raise invalid(f"{at}.{name}: Field required")
    if not isinstance(block[name], str):
        raise invalid(f"{at}.{name}: Input should be a valid string")
    return str(block[name])


def _ttl(block: JSON, at: str) -> str | None:
    """The cache ttl a block's `cache_control` asks for ("5m" by default), or None without one."""
    control = block.get("cache_control")
    if control is None:
        return None
    at = f"{at}.cache_control" if at else "cache_control"
    if _object(control, at).get("type") != "ephemeral":
        raise invalid(f"{at}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", "5m")
    if ttl not in ("5m", "1h"):
        raise invalid(f"{at}.ephemeral.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _decode(body: bytes) -> JSON:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise invalid("There was an issue with the format of your request: the body is not valid JSON.") from None
    return _object(decoded, "body")


# --- the prompt ---------------------------------------------------------------------------------


class Segment(NamedTuple):
    """One cacheable piece of the prompt, in the API's prefix order: its identity, tokens and cache ttl."""

    key: str
    tokens: int
    ttl: str | None


@dataclass
class Said:
    """What the last user turn says, as the reply rules read it."""

    text: str = ""
    images: int = 0
    documents: int = 0
    results: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool name, text, is_error)


@dataclass
class Turn:
    """Consecutive messages of one role, merged as the API merges them; `blocks` are (path, block) pairs."""

    role: str
    last_index: int
    blocks: list[tuple[str, JSON]] = field(default_factory=list)

    def ids(self, kind: str, key: str) -> list[tuple[str, str]]:
        return [(at, str(block.get(key))) for at, block in self.blocks if block.get("type") == kind]


@dataclass
class Prompt:
    """A validated prompt: its segments (tools, system, messages), the last user turn, and the turns."""

    segments: list[Segment] = field(default_factory=list)
    said: Said = field(default_factory=Said)
    turns: list[Turn] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(segment.tokens for segment in self.segments)

    def add(self, where: str, block: JSON, tokens: int, at: str) -> None:
        key = json.dumps([where, {k: v for k, v in block.items() if k != "cache_control"}], sort_keys=True)
        self.segments.append(Segment(key, tokens, _ttl(block, at)))


def _source(block: JSON, at: str, kinds: tuple[str, ...]) -> JSON:
    source = _object(block.get("source"), f"{at}.source")
    kind = source.get("type")
    if kind not in kinds:
        expected = ", ".join(f"'{k}'" for k in kinds)
        raise invalid(f"{at}.source: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                      f"{expected}")
    return source


def _image(block: JSON, at: str) -> int:
    source = _source(block, f"{at}.image", ("base64", "url", "file"))
    kind = source["type"]
    if kind == "base64":
        if source.get("media_type") not in _IMAGE_TYPES:
            raise invalid(f"{at}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                          "'image/gif' or 'image/webp'")
        try:
            base64.b64decode(_string(source, "data", f"{at}.image.source.base64"), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(f"{at}.image.source.base64.data: The image data is not valid base64.") from None
    else:
        _string(source, "url" if kind == "url" else "file_id", f"{at}.image.source.{kind}")
    return IMAGE_TOKENS


def _document(block: JSON, at: str) -> int:
    source = _source(block, f"{at}.document", ("base64", "text", "url", "content", "file"))
    if source["type"] == "text":
        return words(_string(source, "data", f"{at}.document.source.text"))
    return DOCUMENT_TOKENS


def _text(block: JSON, at: str) -> str:
    text = _string(block, "text", f"{at}.text")
    if not text:
        raise invalid("messages: text content blocks must be non-empty")
    if not text.strip():
        raise invalid("messages: text content blocks must contain non-whitespace text")
    return text


def _block_tokens(block: Any, at: str) -> int:
    """Validate one content block and count its tokens."""
    if not isinstance(block, dict) or "type" not in block:
        raise invalid(f"{at}: Unable to extract tag using discriminator 'type'")
    match block["type"]:
        case "text":
            return words(_text(block, at))
        case "image":
            return _image(block, at)
        case "document":
            return _document(block, at)
        case "tool_use":
            _string(block, "id", f"{at}.tool_use")
            _string(block, "name", f"{at}.tool_use")
            return words(json.dumps(_object(block.get("input"), f"{at}.tool_use.input")))
        case "tool_result":
            _string(block, "tool_use_id", f"{at}.tool_result")
            content = block.get("content", "")
            if isinstance(content, str):
                return words(content)
            return sum(_block_tokens(part, f"{at}.tool_result.content.{k}") for k, part in
                       enumerate(_list(content, f"{at}.tool_result.content")))
        case "thinking":
            thought = _string(block, "thinking", f"{at}.thinking")
            if not hmac.compare_digest(_string(block, "signature", f"{at}.thinking"), sign(thought)):
                raise invalid(f"{at}: Invalid `signature` in `thinking` block")
            return words(thought)
        case "redacted_thinking":
            sealed = unseal(_string(block, "data", f"{at}.redacted_thinking"))
            if sealed is None:
                raise invalid(f"{at}: Invalid `data` in `redacted_thinking` block")
            return words(sealed)
        case other:
            expected = ", ".join(f"'{kind}'" for kind in _BLOCK_TYPES)
            raise invalid(f"{at}: Input tag '{other}' found using 'type' does not match any of the expected tags: "
                          f"{expected}")


def _turns(messages: list[Any], prompt: Prompt) -> list[Turn]:
    """Validate every message, count its blocks, and merge consecutive same-role messages into turns."""
    turns: list[Turn] = []
    for i, message in enumerate(messages):
        message = _object(message, f"messages.{i}")
        role = message.get("role")
        if role == "system":
            raise invalid('messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                          'parameter, not "system" as an input message role.')
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise invalid(f"messages.{i}.content: Field required")
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else _list(content, f"messages.{i}")
        if (content == "" or not blocks) and not (role == "assistant" and i == len(messages) - 1):
            raise invalid(f"messages.{i}: all messages must have non-empty content except for the optional final "
                          "assistant message")
        if content == "":
            blocks = []
        if not turns or turns[-1].role != role:
            turns.append(Turn(str(role), i))
        turns[-1].last_index = i
        for j, block in enumerate(blocks):
            at = f"messages.{i}.content.{j}"
            prompt.add(str(role), block, _block_tokens(block, at), at)
            turns[-1].blocks.append((at, block))
    return turns


def _check_pairing(turns: list[Turn]) -> None:
    """Every tool_use is answered by a tool_result in the next turn, and every tool_result answers one."""
    for index, turn in enumerate(turns):
        if turn.role == "assistant":
            following = turns[index + 1] if index + 1 < len(turns) else None
            answered = {tool_id for _, tool_id in following.ids("tool_result", "tool_use_id")} if following else set()
            missing = [tool_id for _, tool_id in turn.ids("tool_use", "id") if tool_id not in answered]
            if missing:
                raise invalid(
                    f"messages.{turn.last_index}: `tool_use` ids were found without `tool_result` blocks immediately "
                    f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` "
                    "block in the next message."
                )
            continue
        asked = {tool_id for _, tool_id in turns[index - 1].ids("tool_use", "id")} if index else set()
        for at, tool_id in turn.ids("tool_result", "tool_use_id"):
            if tool_id not in asked:
                raise invalid(
                    f"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {tool_id}. Each `tool_result` "
                    "block must have a corresponding `tool_use` block in the previous message."
                )


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def _said(turns: list[Turn]) -> Said:
    """The last user turn (before a final assistant prefill), with its tool results named by the calls they answer."""
    users = [index for index, turn in enumerate(turns) if turn.role == "user"]
    if not users:
        return Said()
    index = users[-1]
    calls = turns[index - 1].blocks if index else []
    names = {str(b["id"]): str(b["name"]) for _, b in calls if b["type"] == "tool_use"}
    said = Said()
    texts = []
    for _, block in turns[index].blocks:
        kind = block["type"]
        texts += [str(block["text"])] if kind == "text" else []
        said.images += kind == "image"
        said.documents += kind == "document"
        if kind == "tool_result":
            name = names.get(str(block["tool_use_id"]), "")
            said.results.append((name, _result_text(block.get("content", "")), bool(block.get("is_error"))))
    said.text = " ".join(texts)
    return said


def _system(body: JSON, prompt: Prompt) -> None:
    system = body.get("system")
    if system is None:
        return
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else _list(system, "system")
    for k, block in enumerate(blocks):
        block = _object(block, f"system.{k}")
        if block.get("type") != "text":
            raise invalid(f"system.{k}.type: Input should be 'text'")
        prompt.add("system", block, words(_string(block, "text", f"system.{k}")), f"system.{k}")


def _tools(body: JSON, prompt: Prompt) -> list[JSON]:
    """Validate `tools`, count them, and return the client tools (the ones the fake may call)."""
    client: list[JSON] = []
    names: set[str] = set()
    for k, tool in enumerate(_list(body.get("tools"), "tools")):
        tool = _object(tool, f"tools.{k}")
        if tool.get("type") in (None, "custom"):
            at = f"tools.{k}.custom"
            name = _string(tool, "name", at)
            if not _TOOL_NAME.fullmatch(name):
                raise invalid(f"{at}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if "input_schema" not in tool:
                raise invalid(f"{at}.input_schema: Field required")
            if not isinstance(tool["input_schema"], dict) or tool["input_schema"].get("type") != "object":
                raise invalid(f"{at}.input_schema.type: Input should be 'object'")
            client.append(tool)
        else:
            name = str(tool.get("name", tool["type"]))
        if name in names:
            raise invalid("tools: Tool names must be unique.")
        names.add(name)
        definition = {key: value for key, value in tool.items() if key != "cache_control"}
        prompt.add("tools", tool, words(json.dumps(definition)), f"tools.{k}")
    return client


def read_prompt(body: JSON) -> tuple[Prompt, list[JSON]]:
    """Validate and count `tools`, `system` and `messages` (with its pairing rules); also the client tools."""
    prompt = Prompt()
    tools = _tools(body, prompt)
    _system(body, prompt)
    if "messages" not in body:
        raise invalid("messages: Field required")
    messages = _list(body["messages"], "messages")
    if not messages:
        raise invalid("messages: at least one message is required")
    turns = _turns(messages, prompt)
    _check_pairing(turns)
    final = turns[-1].blocks[-1][1] if turns[-1].role == "assistant" and turns[-1].blocks else {}
    if final.get("type") == "text" and str(final["text"]) != str(final["text"]).rstrip():
        raise invalid("messages: final assistant content cannot end with trailing whitespace")
    if body.get("cache_control") is not None and prompt.segments:
        key, tokens, _ = prompt.segments[-1]
        prompt.segments[-1] = Segment(key, tokens, _ttl(body, ""))
    breakpoints = sum(1 for segment in prompt.segments if segment.ttl)
    if breakpoints > MAX_BREAKPOINTS:
        raise invalid(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints}.")
    prompt.said, prompt.turns = _said(turns), turns
    return prompt, tools


def sign(thought: str) -> str:
    """A thinking block's `signature`: opaque to clients, checked when the block comes back."""
    return base64.b64encode(hmac.digest(_SIGNING_KEY, thought.encode(), "sha256")).decode()


def seal(thought: str) -> str:
    """A redacted_thinking block's `data`: the thinking and its signature, base64; the API's is encrypted."""
    return base64.b64encode(f"{thought}\n{sign(thought)}".encode()).decode()


def unseal(data: str) -> str | None:
    """The thinking a `seal` holds, or None for data this fake did not seal (or that was changed)."""
    try:
        thought, _, signature = base64.b64decode(data, validate=True).decode().rpartition("\n")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return thought if hmac.compare_digest(signature, sign(thought)) else None


def check_thought_turns(turns: list[Turn], thinking: bool) -> None:
    """The API's rules for thinking blocks in the history (see the module docstring)."""
    assistants = [turn for turn in turns if turn.role == "assistant" and turn.blocks]
    if thinking and assistants and assistants[-1].ids("tool_use", "id"):
        at, first = assistants[-1].blocks[0]
        if first["type"] not in ("thinking", "redacted_thinking"):
            raise invalid(f"{at}.type: Expected `thinking` or `redacted_thinking`, but found `{first['type']}`. When "
                          "`thinking` is enabled, a final `assistant` message must start with a thinking block "
                          "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                          "include thinking blocks from previous turns. To avoid this requirement, disable "
                          f"`thinking`. Please consult our documentation at {_THINKING_DOCS}")
    if not thinking and turns[-1].role == "assistant":
        for at, block in turns[-1].blocks:
            if block["type"] in ("thinking", "redacted_thinking"):
                raise invalid(f"{at}: When thinking is disabled, an `assistant` message in the final position cannot "
                              "contain `thinking`. To use thinking blocks, enable `thinking` in your request.")


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What besides the prompt shapes the reply: limits, stop sequences, streaming and the tool choice."""

    max_tokens: int = 0
    stops: tuple[str, ...] = ()
    stream: bool = False
    tools: tuple[JSON, ...] = ()
    choice: str = "auto"
    forced: str = ""  # the tool a `{"type": "tool"}` choice names
    parallel: bool = True
    thinking: bool = False  # `enabled` or `adaptive`
    shown: bool = True  # not `display: omitted`


def _tool_choice(body: JSON, tools: list[JSON]) -> tuple[str, str, bool]:
    choice = body.get("tool_choice")
    if choice is None:
        return "auto", "", True
    kind = _object(choice, "tool_choice").get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid(f"tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                      "'auto', 'any', 'tool', 'none'")
    if kind in ("any", "tool") and not tools:
        raise invalid(f"tool_choice: `{kind}` may only be specified while providing tools")
    name = _string(choice, "name", "tool_choice.tool") if kind == "tool" else ""
    if name and name not in {tool["name"] for tool in tools}:
        raise invalid(f"tool_choice.tool.name: tool '{name}' is not one of the provided tools")
    return str(kind), name, not choice.get("disable_parallel_tool_use", False)


def _check_thinking(body: JSON, max_tokens: int | None, choice: str) -> tuple[bool, bool]:
    """(thinking on, its text shown)."""
    thinking = body.get("thinking")
    if thinking is None:
        return False, True
    kind = _object(thinking, "thinking").get("type")
    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise invalid(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'")
    if kind == "disabled":
        return False, True
    if kind == "adaptive":
        _check_sampling_while_thinking(body)
        return True, display != "omitted"
    if kind != "enabled":
        raise invalid(f"thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                      "'enabled', 'disabled', 'adaptive'")
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if max_tokens is not None and budget >= max_tokens:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                      "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-"
                      "window-size")
    if choice in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")
    _check_sampling_while_thinking(body)
    return True, display != "omitted"


def _check_sampling_while_thinking(body: JSON) -> None:
    considerations = f"{_THINKING_DOCS}#important-considerations-when-using-extended-thinking"
    if body.get("temperature") not in (None, 1, 1.0):
        raise invalid(f"`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation "
                      f"at {considerations}")
    if body.get("top_k") is not None:
        raise invalid(f"`top_k` must be unset when thinking is enabled. Please consult our documentation at "
                      f"{considerations}")
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and top_p < 0.95:
        raise invalid(f"`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please "
                      f"consult our documentation at {considerations}")


def check_fields(body: JSON, counting: bool) -> None:
    """No unknown top-level field; `model` (and, but for count_tokens, `max_tokens`) present."""
    known = _COUNT_FIELDS if counting else _CREATE_FIELDS
    for name in body:
        if name not in known:
            raise invalid(f"{name}: Extra inputs are not permitted")
    for name in ("model",) if counting else ("model", "max_tokens"):
        if name not in body:
            raise invalid(f"{name}: Field required")
    if not isinstance(body["model"], str):
        raise invalid("model: Input should be a valid string")


def read_settings(body: JSON, tools: list[JSON]) -> Settings:
    """Validate the top-level fields but `tools`, `system` and `messages` (after `check_fields`)."""
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise invalid("max_tokens: Input should be a valid integer")
    if max_tokens is not None and max_tokens < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    stops = _list(body.get("stop_sequences"), "stop_sequences")
    if not all(isinstance(stop, str) for stop in stops):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean")
    temperature = body.get("temperature")
    if temperature is not None and (not isinstance(temperature, int | float) or not 0 <= temperature <= 1):
        raise invalid("temperature: Input should be a number between 0 and 1")
    kind, forced, parallel = _tool_choice(body, tools)
    thinking, shown = _check_thinking(body, max_tokens, kind)
    return Settings(max_tokens or 0, tuple(stops), stream, tuple(tools), kind, forced, parallel, thinking, shown)


# --- the reply ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextOut:
    """A text block of the reply."""

    text: str

    @property
    def tokens(self) -> int:
        return words(self.text)

    def wire(self) -> JSON:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ToolOut:
    """A tool_use block of the reply."""

    id: str
    name: str
    input: JSON

    @property
    def tokens(self) -> int:
        return words(json.dumps(self.input))

    def wire(self) -> JSON:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class ThinkingOut:
    """A thinking block of the reply, signed."""

    thinking: str

    @property
    def tokens(self) -> int:
        return words(self.thinking)

    def wire(self) -> JSON:
        return {"type": "thinking", "thinking": self.thinking, "signature": sign(self.thinking)}


@dataclass(frozen=True)
class RedactedOut:
    """A redacted_thinking block: its thinking sealed (see `seal`), opaque to the client, billed as output."""

    thinking: str

    @property
    def tokens(self) -> int:
        return words(self.thinking)

    def wire(self) -> JSON:
        return {"type": "redacted_thinking", "data": seal(self.thinking)}


Out = RedactedOut | ThinkingOut | TextOut | ToolOut


@dataclass(frozen=True)
class Usage:
    """Input-side usage: uncached input tokens, tokens read from the cache and written to it (by ttl)."""

    input: int
    read: int = 0
    write_5m: int = 0
    write_1h: int = 0

    def wire(self, output: int) -> JSON:
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.write_5m + self.write_1h,
            "cache_read_input_tokens": self.read,
            "cache_creation": {"ephemeral_5m_input_tokens": self.write_5m, "ephemeral_1h_input_tokens": self.write_1h},
            "output_tokens": output,
            "service_tier": "standard",
        }

    def totals(self, output: int) -> JSON:
        """The cumulative counts a message_delta carries."""
        return {"input_tokens": self.input, "cache_creation_input_tokens": self.write_5m + self.write_1h,
                "cache_read_input_tokens": self.read, "output_tokens": output}


def cache_usage(segments: list[Segment], model: str, cache: set[str]) -> Usage:
    """Read the longest cached prefix ending at a breakpoint, write the rest up to the last one (see the module
    docstring); `cache` holds the prefix digests seen so far and is updated."""
    digest = hashlib.sha256(model.encode())
    marks: list[tuple[str, int, str]] = []  # (prefix digest, tokens up to the breakpoint, ttl)
    so_far = 0
    for segment in segments:
        digest.update(segment.key.encode() + b"\n")
        so_far += segment.tokens
        if segment.ttl:
            marks.append((digest.hexdigest(), so_far, segment.ttl))
    if not marks:
        return Usage(so_far)
    hit = max((index for index, mark in enumerate(marks) if mark[0] in cache), default=-1)
    read = marks[hit][1] if hit >= 0 else 0
    written = {"5m": 0, "1h": 0}
    before = read
    for _, upto, ttl in marks[hit + 1 :]:
        written[ttl] += upto - before
        before = upto
    cache.update(mark[0] for mark in marks)
    return Usage(so_far - marks[-1][1], read, written["5m"], written["1h"])


@dataclass(frozen=True)
class Plan:
    """The answer to one message request, before it is shaped as a message or a stream."""

    blocks: tuple[Out, ...]
    stop_reason: str
    usage: Usage
    stop_sequence: str | None = None

    @property
    def output_tokens(self) -> int:
        return sum(block.tokens for block in self.blocks)


def _named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text) is not None


def tool_calls(settings: Settings, said: Said) -> list[ToolOut]:
    """The tool_use blocks the fake answers with (see the module docstring)."""
    tools = list(settings.tools)
    if settings.choice == "none" or not tools or (settings.choice == "auto" and said.results):
        return []
    if settings.choice == "tool":
        chosen = [tool for tool in tools if tool["name"] == settings.forced]
    else:
        chosen = [tool for tool in tools if _named(tool["name"], said.text)]
        chosen = chosen or (tools[:1] if settings.choice == "any" else [])
    given = _assignments(said.text)
    calls = []
    for tool in chosen[: None if settings.parallel else 1]:
        arguments = sample(tool["input_schema"], given)
        calls.append(ToolOut(_new_id("toolu_"), tool["name"], arguments if isinstance(arguments, dict) else {}))
    return calls


def reply_text(said: Said) -> str:
    if said.results:
        return "results: " + "; ".join(
            f"{name} {'failed' if failed else 'returned'} {text}" for name, text, failed in said.results
        )
    extras = "".join(f" [{kind}: {count}]" for kind, count in (("images", said.images), ("documents", said.documents))
                     if count)
    return f"echo: {said.text}{extras}"


def plan_message(prompt: Prompt, settings: Settings, usage: Usage, thinks: bool) -> Plan:
    """Decide the reply: nothing for max_tokens 0, tool calls, or text cut by stop sequences and max_tokens; a
    thinking block first when the request and the model think."""
    if settings.max_tokens == 0:
        return Plan((), "max_tokens", usage)
    thought: tuple[Out, ...] = ()
    if thinks and settings.thinking:
        subject = prompt.said.text or "the results"
        thought = (ThinkingOut(f"Let me think about {subject}." if settings.shown else ""),)
        if REDACTED_TRIGGER in prompt.said.text:
            thought = (RedactedOut(f"Thinking about {subject} in secret."), *thought)
    calls = tool_calls(settings, prompt.said)
    if calls:
        preamble = [TextOut(f"I'll use {', '.join(call.name for call in calls)}.")] if settings.choice == "auto" else []
        return Plan((*thought, *preamble, *calls), "tool_use", usage)
    text = reply_text(prompt.said)
    found = sorted((text.find(stop), stop) for stop in settings.stops if stop and stop in text)
    matched = found[0][1] if found else None
    reply = text_reply(text[: found[0][0]] if found else text, settings.max_tokens)
    blocks = (*thought, TextOut(reply.text)) if reply.text else thought
    if reply.finish_reason == "length":
        return Plan(blocks, "max_tokens", usage)
    return Plan(blocks, "stop_sequence" if matched else "end_turn", usage, matched)


class Meta(NamedTuple):
    """What a message and all of its stream events share."""

    id: str
    model: str


def message_object(plan: Plan, meta: Meta) -> JSON:
    return {
        "model": meta.model,
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "content": [block.wire() for block in plan.blocks],
        "stop_reason": plan.stop_reason,
        "stop_sequence": plan.stop_sequence,
        "usage": plan.usage.wire(plan.output_tokens),
    }


_PING: tuple[str, JSON] = ("ping", {"type": "ping"})


def _block_events(index: int, block: Out) -> list[tuple[str, JSON]]:
    match block:
        case TextOut(text=text):
            split = pieces(text)
            chunks = ["".join(split[i : i + CHUNK_WORDS]) for i in range(0, len(split), CHUNK_WORDS)]
            start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": c} for c in chunks]
        case ToolOut():
            start = block.wire() | {"input": {}}
            parts = ["", *split_in(json.dumps(block.input), JSON_PIECES)]
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in parts]
        case RedactedOut():
            start, deltas = block.wire(), []
        case ThinkingOut(thinking=thinking):
            split = pieces(thinking)
            chunks = ["".join(split[i : i + CHUNK_WORDS]) for i in range(0, len(split), CHUNK_WORDS)]
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [*({"type": "thinking_delta", "thinking": c} for c in chunks),
                      {"type": "signature_delta", "signature": sign(thinking)}]
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
        *(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def stream_events(plan: Plan, meta: Meta) -> list[tuple[str, JSON]]:
    """The (event type, data) pairs of a streamed message, in the API's order."""
    opening = message_object(plan, meta) | {"content": [], "stop_reason": None, "stop_sequence": None}
    opening["usage"] = plan.usage.wire(min(plan.output_tokens, 1))
    events: list[tuple[str, JSON]] = [("message_start", {"type": "message_start", "message": opening})]
    for index, block in enumerate(plan.blocks):
        events += _block_events(index, block)
    events.insert(2 if plan.blocks else 1, _PING)
    delta = {"stop_reason": plan.stop_reason, "stop_sequence": plan.stop_sequence}
    events.append(("message_delta", {"type": "message_delta", "delta": delta,
                                     "usage": plan.usage.totals(plan.output_tokens)}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def broken_stream(events: list[tuple[str, JSON]]) -> list[tuple[str, JSON]]:
    """`fault-stream-error`: the stream up to its first content delta, then an overloaded_error event."""
    first_delta = next((index for index, (name, _) in enumerate(events) if name == "content_block_delta"), 1)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return [*events[: first_delta + 1], ("error", error)]


def frame(name: str, payload: Any) -> bytes:
    """One SSE event as the API frames it: `event: <type>\\ndata: <json>\\n\\n`."""
    return f"event: {name}\n".encode() + sse(payload)


# --- models routes ------------------------------------------------------------------------------


def _cursor(params: dict[str, list[str]], name: str, ids: list[str]) -> int | None:
    values = params.get(name)
    if not values:
        return None
    if values[-1] not in ids:
        raise invalid(f"{name}: no model with id '{values[-1]}'")
    return ids.index(values[-1])


def models_page(query: str) -> JSON:
    """`GET /v1/models`: `limit` models after `after_id` (or before `before_id`), filtered by `lifecycle[]`."""
    params = parse_qs(query)
    raw_limit = params.get("limit", ["20"])[-1]
    if not raw_limit.lstrip("-").isdigit():
        raise invalid("limit: Input should be a valid integer")
    limit = int(raw_limit)
    if not 1 <= limit <= 1000:
        raise invalid(f"limit: Input should be {'greater' if limit < 1 else 'less'} than or equal to "
                      f"{1 if limit < 1 else 1000}")
    lifecycles = params.get("lifecycle[]", []) + params.get("lifecycle", [])
    for k, value in enumerate(lifecycles):
        if value not in ("active", "deprecated", "retired"):
            raise invalid(f"lifecycle.{k}: Input should be 'active', 'deprecated' or 'retired'")
    chosen = [model for model in MODELS if not lifecycles or model.lifecycle in lifecycles]
    ids = [model.id for model in chosen]
    after, before = _cursor(params, "after_id", ids), _cursor(params, "before_id", ids)
    if before is not None and after is None:
        start = max(before - limit, 0)
        page, more = chosen[start:before], start > 0
    else:
        start = 0 if after is None else after + 1
        page, more = chosen[start : start + limit], start + limit < len(chosen)
    return {
        "data": [model.wire() for model in page],
        "has_more": more,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


def model_info(name: str) -> JSON:
    model = _BY_NAME.get(name)
    if model is None:
        raise model_not_found(name)
    return model.wire()


# --- the server ---------------------------------------------------------------------------------


class FakeAnthropic(FakeUpstream):
    """The fake Anthropic API; also usable as `with FakeAnthropic() as fake:`. `api_key=None` turns auth off."""

    server_name = "fake-anthropic"
    fault_kinds = FAULT_KINDS | {"cut"}

    def __init__(self, api_key: str | None = "sk-ant-fake-upstream-key") -> None:
        super().__init__(api_key)
        self._cache: set[str] = set()

    def reset(self) -> None:
        self._cache.clear()

    async def handle(self, request: Request, ex: Exchange) -> None:
        name = request.path.removeprefix("/v1/models/") if request.path.startswith("/v1/models/") else None
        allowed = _ROUTES.get(request.path) or ("GET" if name and "/" not in name else None)
        if allowed is None:
            raise AnthropicError(404, "Not Found")
        self._authenticate(request)
        version = request.headers.get("anthropic-version")
        if not version:
            raise invalid("anthropic-version: header is required")
        if not _VERSION.fullmatch(version):
            raise invalid(f"anthropic-version: invalid version '{version}', expected a date like 2023-06-01")
        if request.method != allowed:
            raise AnthropicError(405, "Method Not Allowed", {"allow": allowed})
        if request.path == "/v1/models":
            await self._json(ex, models_page(request.query))
        elif name is not None:
            await self._json(ex, model_info(name))
        else:
            await self._message(ex, _decode(request.body), counting=request.path.endswith("/count_tokens"))

    def _authenticate(self, request: Request) -> None:
        if self.api_key is None:
            return
        key = request.headers.get("x-api-key")
        if key is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else None
        if not key:
            raise AnthropicError(401, "x-api-key header is required")
        if key != self.api_key:
            raise AnthropicError(401, "invalid x-api-key")

    async def _message(self, ex: Exchange, body: JSON, counting: bool) -> None:
        name = body.get("model")
        fault = self.fault_for(name)
        named = {n for n in ("fault-context", "fault-stream-error") if n in (name, self.fault)}
        if fault is not None and fault.kind == "status":
            raise fault_status(fault.status, str(name))
        check_fields(body, counting)
        prompt, tools = read_prompt(body)
        settings = read_settings(body, tools)
        check_thought_turns(prompt.turns, settings.thinking)
        model = resolve_model(str(name), faulty=fault is not None or bool(named))
        if settings.max_tokens > model.max_tokens:
            raise invalid(f"max_tokens: {settings.max_tokens} > {model.max_tokens}, which is the maximum allowed "
                          f"number of output tokens for {model.id}")
        if not counting and prompt.tokens + settings.max_tokens > MAX_CONTEXT:
            raise invalid(f"input length and `max_tokens` exceed context limit: {prompt.tokens} + "
                          f"{settings.max_tokens} > {MAX_CONTEXT}, decrease input length or `max_tokens` and try again")
        if "fault-context" in named:
            raise prompt_too_long(MAX_CONTEXT + prompt.tokens)
        if fault is not None and fault.kind == "stall" and not await self.stall(ex, fault.value):
            return
        cut = int(fault.value) if fault is not None and fault.kind == "cut" else None
        garbage = fault is not None and fault.kind == "garbage"
        if counting:
            await self._respond(ex, {"input_tokens": prompt.tokens}, cut, garbage)
            return
        plan = plan_message(prompt, settings, cache_usage(prompt.segments, model.id, self._cache), model.thinking)
        meta = Meta(_new_id("msg_"), model.id)
        if settings.stream:
            events = stream_events(plan, meta)
            events = broken_stream(events) if "fault-stream-error" in named else events
            frames = [frame("message_start", GARBAGE)] if garbage else [frame(n, data) for n, data in events]
            await self.stream(ex, _STREAM_TYPE, frames, headers=_headers(), cut=cut)
        elif "fault-stream-error" in named:
            raise overloaded()
        else:
            await self._respond(ex, message_object(plan, meta), cut, garbage)

    async def _respond(self, ex: Exchange, payload: JSON, cut: int | None, garbage: bool) -> None:
        if garbage:
            await ex.garbage()
        elif cut is not None:
            data = msgspec.json.encode(payload)
            await self.stream(ex, "application/json", [data[: len(data) // 2]], headers=_headers(),
                              length=len(data), cut=1)
        else:
            await self._json(ex, payload)

    async def _json(self, ex: Exchange, payload: JSON) -> None:
        await ex.json(200, payload, _headers())


def _headers() -> dict[str, str]:
    return {"request-id": _new_id("req_"), "anthropic-organization-id": ORGANIZATION_ID}
