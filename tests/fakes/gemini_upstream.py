"""A faithful fake of Google's Gemini API (the Generative Language API) for tests: `FakeGemini`.

A raw ASGI 3 application on `upstream_kit`; `base_url` is the server root, like the SDK's
`https://generativelanguage.googleapis.com/`. Every route exists under `/v1beta` and `/v1` (google-genai 3.x
defaults to `v1`); an unknown path answers Google's HTML 404 page. Routes, all behind the API key (header
`x-goog-api-key`, which the SDK sends, or `?key=`):

* `POST /{v}/models/{model}:generateContent` and `:streamGenerateContent` (`?alt=sse`: SSE events
  `data: <GenerateContentResponse>\\r\\n\\r\\n`, one per ASGI send; without `alt=sse`, a JSON array);
* `POST /{v}/models/{model}:countTokens` (`contents` or `generateContentRequest`) → `{totalTokens,
  promptTokensDetails}`;
* `POST /{v}/models/{model}:embedContent` → `{embedding: {values}}`, `:batchEmbedContents` (`requests[{model,
  content, taskType, title, outputDimensionality}]`, at most 100) → `{embeddings: [{values}]}`;
* `GET /{v}/models` (`pageSize`, default 50, `pageToken` → `nextPageToken`) and `GET /{v}/models/{model}`.

Request fields are read by their JSON (camelCase) or proto (snake_case) name, as Google's parser accepts both
(the SDK sends `inlineData.mime_type`, `thinkingConfig.thinking_budget`, ...); an unknown field in the request,
`generationConfig`, a content or a part is a 400 `Invalid JSON payload received. Unknown name ...`.

Replies are deterministic (tokens are `openai_wire.words`, whitespace-separated words, as in `FakeOpenAI`):

* Text: `"echo: " + <text of the last user content>`, plus ` [images: N]` for its inline images; after a
  `functionResponse` turn, `"results: <name> returned <json>; ..."`. Every candidate (`candidateCount`)
  is the same text. `stopSequences` cut the text before the first match (finishReason STOP);
  `maxOutputTokens` keeps that many words (finishReason MAX_TOKENS); unlike on the real 2.5 models, thinking
  does not spend that budget.
* JSON mode (`responseMimeType: application/json`): the value `sample` builds from `responseSchema` or
  `responseJsonSchema` (else `{"echo": <text>}`), `json.dumps`-encoded; `text/x.enum` answers the first enum.
* Tools: every declared function whose name is a word of the last user text is called, in declaration order
  (parallel calls); with mode ANY and none named, the first declaration (`allowedFunctionNames` filters
  under ANY). NONE, a `functionResponse` turn (except under ANY) or no match answers text. Arguments
  fill every property of `parameters` / `parametersJsonSchema` (see `sample`): `<property>=<value>` in the
  user text, else `default`, else the first `enum`, else `"example"`, 1, 1.5, true, one item, an object.
  The calls come as `functionCall` parts with finishReason STOP, the first with a `thoughtSignature` when the
  model thought.
* Thinking: gemini-2.5-pro always thinks, gemini-2.5-flash unless `thinkingBudget` is 0, gemini-2.5-flash-lite
  only with a non-zero budget; a thinking reply reports `thoughtsTokenCount` 32 (or the budget, if smaller),
  and `includeThoughts` adds a `thought: true` summary part first. Budget 0 on 2.5 Pro is a 400.
* Safety: the word "jailbreak" in the last user text blocks the prompt (`promptFeedback.blockReason` SAFETY,
  no candidates); "unsafe" gives candidates with finishReason SAFETY, `safetyRatings` and no content, unless
  `safetySettings` sets HARM_CATEGORY_DANGEROUS_CONTENT to BLOCK_NONE or OFF.
* Tokens: prompt = words of the system instruction and text parts, `json.dumps` words of each function
  declaration and functionCall/functionResponse part, 258 per inline/file media part (`promptTokensDetails`
  by modality); candidates = words of each candidate's text, or `json.dumps` words of `{"functionCall": ...}`
  per call.
* Embeddings: `openai_wire.embedding_vector` of (model, taskType, text) at the model's width (3072 for
  gemini-embedding-001, 768 for text-embedding-004), a unit vector; `outputDimensionality` keeps its prefix,
  which, as the real API documents for truncated gemini-embedding-001 vectors, is not re-normalised.
* Streams: the text in chunks of 4 words, each a whole GenerateContentResponse with `usageMetadata` (the
  candidates count so far), `modelVersion` and the same `responseId`; function calls arrive whole in one
  chunk; finishReason is on the last chunk.

Errors are Google's `{"error": {"code", "message", "status", "details"?}}`, pretty-printed like the real
server: no key → 403 PERMISSION_DENIED; a wrong key → 400 `API key not valid. Please pass a valid API key.`
with ErrorInfo API_KEY_INVALID; an unknown model (any `gemini-*` id is accepted) or one without the method →
404 `models/x is not found for API version v1beta, or is not supported for generateContent. ...`, and
`GET /{v}/models/x` → 404 `Model is not found: models/x for api version v1beta`; 429 carries QuotaFailure and
RetryInfo details and, like Google, no `retry-after` header. Messages for checks that real errors in the wild
do not show (candidateCount, stop sequences, temperature range, batch model mismatch, page tokens) are this
fake's own, in Google's style.

Faults are chosen by the model in the URL (or the server-wide `fault`), after the key check and, but for
`fault-status`, after the request was validated: `fault-status-<code>` (Google's body
for it), `fault-stall-<seconds>`, `fault-garbage` (200 text/html; streaming, an SSE event that is not JSON),
`fault-cut-<n>` (streaming: n events, then the connection drops; otherwise half of the body), and
`fault-context` (400 `The input token count (N) exceeds the maximum number of tokens allowed (1048576).`).
A fault model answers like gemini-2.0-flash and embeds like text-embedding-004. Every request is recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

import msgspec

from tests.fakes.openai_wire import embedding_vector, pieces, text_reply, words
from tests.fakes.upstream_kit import FAULT_KINDS, GARBAGE, JSON, Exchange, FakeUpstream, HTTPError, Request, sse

__all__ = ["MODELS", "FakeGemini", "GeminiError", "GeminiModel", "sample"]

MAX_INPUT_TOKENS = 1_048_576
MEDIA_TOKENS = 258
THOUGHT_TOKENS = 32
CHUNK_WORDS = 4
MAX_BATCH = 100
MAX_CANDIDATES = 8
MAX_STOP_SEQUENCES = 5
PROMPT_TRIGGER, CANDIDATE_TRIGGER = "jailbreak", "unsafe"
HARM_CATEGORIES = (
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
_CATEGORIES = (*HARM_CATEGORIES, "HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_UNSPECIFIED")
_THRESHOLDS = ("HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE",
               "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF")
_MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
TASK_TYPES = ("TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
              "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")
_GENERATE = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")
_ROUTE = re.compile(r"/(v1|v1beta)/models(?:/([^/:]+)(?::([A-Za-z]+))?)?")
_ASSIGNMENT = re.compile(r"(\w+)=(\"[^\"]*\"|[^\s,;]+)")
_HEADERS = {"vary": "Origin, X-Origin, Referer", "x-content-type-options": "nosniff", "x-xss-protection": "0"}
_JSON_TYPE = "application/json; charset=UTF-8"
_NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found "
    "on this server.  <ins>That\u2019s all we know.</ins>\n"
)


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeminiModel:
    """One entry of the model catalogue; `thinking` is "always", "default" (on unless the budget is 0),
    "optional" (off unless a budget is set) or None; `dimensions` is an embedding model's width."""

    name: str
    display_name: str
    description: str
    version: str
    methods: tuple[str, ...] = _GENERATE
    input_limit: int = MAX_INPUT_TOKENS
    output_limit: int = 65536
    thinking: str | None = None
    top_k: int = 64
    dimensions: int = 0

    def wire(self) -> JSON:
        result: JSON = {
            "name": f"models/{self.name}",
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_limit,
            "outputTokenLimit": self.output_limit,
            "supportedGenerationMethods": list(self.methods),
        }
        if not self.dimensions:
            result |= {"temperature": 1, "topP": 0.95, "topK": self.top_k, "maxTemperature": 2}
        if self.thinking:
            result["thinking"] = True
        return result


_EMBED_DESCRIPTION = "Obtain a distributed representation of a text."
MODELS: tuple[GeminiModel, ...] = (
    GeminiModel("gemini-2.5-pro", "Gemini 2.5 Pro", "Stable release (June 17th, 2025) of Gemini 2.5 Pro", "2.5",
                thinking="always"),
    GeminiModel("gemini-2.5-flash", "Gemini 2.5 Flash", "Stable version of Gemini 2.5 Flash, our mid-size "
                "multimodal model that supports up to 1 million tokens, released in June of 2025.", "001",
                thinking="default"),
    GeminiModel("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", "Stable version of Gemini 2.5 Flash-Lite, "
                "released in July of 2025", "001", thinking="optional"),
    GeminiModel("gemini-2.0-flash", "Gemini 2.0 Flash", "Gemini 2.0 Flash", "2.0", output_limit=8192, top_k=40),
    GeminiModel("gemini-embedding-001", "Gemini Embedding 001", _EMBED_DESCRIPTION, "001",
                ("embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"), 2048, 1,
                dimensions=3072),
    GeminiModel("text-embedding-004", "Text Embedding 004", _EMBED_DESCRIPTION, "004", ("embedContent",), 2048, 1,
                dimensions=768),
)
_BY_NAME = {model.name: model for model in MODELS}
_DEFAULT_PAGE_SIZE = 50


def _resolve(name: str, method: str, version: str, faulty: bool) -> GeminiModel:
    """The model a URL names, if it supports `method`; any other `gemini-*` id is accepted like the known ones."""
    model = _BY_NAME.get(name)
    if faulty:
        model = GeminiModel(name, name, "A fault model.", "001", (*_GENERATE, "embedContent"), dimensions=768)
    elif model is None and name.startswith("gemini-"):
        embed = "embedding" in name
        model = GeminiModel(name, name, name, "001", ("embedContent",) if embed else _GENERATE,
                            dimensions=3072 if embed else 0)
    if model is None or method not in model.methods:
        raise not_found(name, version, method)
    return model


# --- errors -------------------------------------------------------------------------------------


_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
                 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def _pretty(payload: Any) -> bytes:
    return msgspec.json.format(msgspec.json.encode(payload), indent=2)


class GeminiError(HTTPError):
    """A Google API error: `{"error": {"code", "message", "status", "details"?}}`, pretty-printed."""

    def __init__(self, status: int, message: str, details: list[JSON] | None = None) -> None:
        error: JSON = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}
        if details:
            error["details"] = details
        super().__init__(status, _pretty({"error": error}), _JSON_TYPE, dict(_HEADERS))
        self.message = message


def _bad_request(*violations: tuple[str | None, str]) -> GeminiError:
    """400 with a google.rpc.BadRequest detail listing (field, description) violations."""
    listed = [({"field": name} if name else {}) | {"description": text} for name, text in violations]
    detail = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": listed}
    return GeminiError(400, "\n".join(text for _, text in violations), [detail])


def _invalid(request_type: str, path: str, text: str) -> GeminiError:
    """The validation error Google writes as `* <Request>.<path>: <text>` (no details)."""
    return GeminiError(400, f"* {request_type}.{path}: {text}\n")


def _invalid_value(path: str, kind: str, value: Any) -> GeminiError:
    """`Invalid value at '<path>' (<type>), <value>`; `kind` is a scalar (TYPE_*) or a v1beta message or enum."""
    if not kind.startswith("TYPE_"):
        kind = f"type.googleapis.com/google.ai.generativelanguage.v1beta.{kind}"
    return _bad_request((path, f"Invalid value at '{path}' ({kind}), {json.dumps(value)}"))


def not_found(model: str, version: str, method: str) -> GeminiError:
    return GeminiError(
        404,
        f"models/{model} is not found for API version {version}, or is not supported for {method}. Call "
        "ListModels to see the list of available models and their supported methods.",
    )


def api_key_invalid() -> GeminiError:
    message = "API key not valid. Please pass a valid API key."
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}
    localized = {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message}
    return GeminiError(400, message, [info, localized])


def context_exceeded(tokens: int) -> GeminiError:
    return GeminiError(
        400, f"The input token count ({tokens}) exceeds the maximum number of tokens allowed ({MAX_INPUT_TOKENS})."
    )


def _rate_limited(model: str) -> GeminiError:
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, "
        f"head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: {metric}, limit: 10, model: {model}"
        "\nPlease retry in 26.0s."
    )
    links = [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]
    violation = {"quotaMetric": metric, "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                 "quotaDimensions": {"location": "global", "model": model}, "quotaValue": "10"}
    return GeminiError(429, message, [
        {"@type": "type.googleapis.com/google.rpc.Help", "links": links},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"},
    ])


def fault_status(status: int, model: str, version: str, method: str) -> GeminiError:
    """The error Gemini sends with `status` (the `fault-status-<code>` models)."""
    if status == 404:
        return not_found(model, version, method)
    if status == 429:
        return _rate_limited(model)
    messages = {
        400: "Request contains an invalid argument.",
        401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        403: "The caller does not have permission",
        500: "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
        503: "The model is overloaded. Please try again later.",
        504: "Deadline expired before operation could complete.",
    }
    return GeminiError(status, messages.get(status, f"Injected fault: HTTP {status}."))


# --- field access and shape checks --------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), name)


def _names(camel: str) -> frozenset[str]:
    split = camel.split()
    return frozenset(split) | {_snake(name) for name in split}


_REQUEST_FIELDS = _names("model contents tools toolConfig safetySettings systemInstruction generationConfig "
                         "cachedContent serviceTier store")
_CONFIG_FIELDS = _names(
    "stopSequences responseMimeType responseSchema responseJsonSchema responseModalities candidateCount "
    "maxOutputTokens temperature topP topK seed presencePenalty frequencyPenalty responseLogprobs logprobs "
    "enableEnhancedCivicAnswers speechConfig thinkingConfig imageConfig mediaResolution"
)
_CONTENT_FIELDS = _names("role parts")
_PART_FIELDS = _names("text inlineData fileData functionCall functionResponse executableCode codeExecutionResult "
                      "thought thoughtSignature videoMetadata mediaResolution partMetadata toolCall toolResponse")
_PART_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
              "codeExecutionResult", "toolCall", "toolResponse")
_EMBED_FIELDS = _names("model content taskType title outputDimensionality")


def _get(obj: JSON, name: str) -> Any:
    """A field by its JSON (camelCase) name or its proto (snake_case) one."""
    return obj[name] if name in obj else obj.get(_snake(name))


def _check_fields(obj: JSON, known: frozenset[str], at: str) -> None:
    unknown = [name for name in obj if name not in known]
    if unknown:
        where = f" at '{at}'" if at else ""
        raise _bad_request(*(
            (at or None, f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.')
            for name in unknown
        ))


def _object(value: Any, path: str, message_type: str) -> JSON:
    if not isinstance(value, dict):
        raise _invalid_value(path, message_type, value)
    return value


def _list(value: Any, path: str, message_type: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid_value(path, message_type, value)
    return value


def _path(at: str, name: str) -> str:
    return f"{at}.{_snake(name)}" if at else _snake(name)


def _int(obj: JSON, name: str, at: str) -> int | None:
    """An int32 field; like protobuf JSON, a decimal string is accepted too."""
    value = _get(obj, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise _invalid_value(_path(at, name), "TYPE_INT32", value)
    return int(value)


def _float(obj: JSON, name: str, at: str) -> float | None:
    value = _get(obj, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid_value(_path(at, name), "TYPE_FLOAT", value)
    return float(value)


def _decode(body: bytes) -> JSON:
    try:
        decoded = msgspec.json.decode(body) if body.strip() else {}
    except msgspec.DecodeError:
        raise _bad_request((None, "Invalid JSON payload received. Unexpected token.")) from None
    if not isinstance(decoded, dict):
        raise _bad_request((None, "Invalid JSON payload received. Expected an object."))
    return decoded


# --- contents -----------------------------------------------------------------------------------


@dataclass
class Turn:
    """One user turn, as the reply rules read it: its text (parts joined), inline images, function results."""

    text: str = ""
    images: int = 0
    results: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Prompt:
    """What a request's prompt adds up to: tokens by modality, and the last user turn."""

    media: dict[str, int] = field(default_factory=lambda: {"TEXT": 0})
    last: Turn = field(default_factory=Turn)

    @property
    def tokens(self) -> int:
        return sum(self.media.values())

    def count(self, modality: str, tokens: int) -> None:
        self.media[modality] = self.media.get(modality, 0) + tokens

    def details(self) -> list[JSON]:
        return [{"modality": kind, "tokenCount": count} for kind, count in self.media.items()]


def _modality(mime: str) -> str:
    kind = mime.partition("/")[0].upper()
    return kind if kind in ("IMAGE", "AUDIO", "VIDEO") else "DOCUMENT"


def _part(part: Any, at: str, prompt: Prompt, turn: Turn, request_type: str) -> None:
    part = _object(part, at, "Part")
    _check_fields(part, _PART_FIELDS, at)
    if all(_get(part, name) is None for name in _PART_DATA):
        raise _invalid(request_type, f"{at}.data", "required oneof field 'data' must have one initialized field")
    text = _get(part, "text")
    if isinstance(text, str):
        prompt.count("TEXT", words(text))
        turn.text += text
    media = _get(part, "inlineData") or _get(part, "fileData")
    if isinstance(media, dict):
        mime, data = str(_get(media, "mimeType") or ""), _get(media, "data")
        if data is not None:
            try:
                base64.b64decode(str(data), validate=True)
            except (binascii.Error, ValueError):
                failed = f"Base64 decoding failed for {data}"
                raise _invalid_value(f"{at}.inline_data.data", "TYPE_BYTES", failed) from None
        prompt.count(_modality(mime), MEDIA_TOKENS)
        turn.images += mime.startswith("image/")
    for name in ("functionCall", "functionResponse"):
        value = _get(part, name)
        if isinstance(value, dict):
            prompt.count("TEXT", words(json.dumps(value)))
            if name == "functionResponse":
                turn.results.append((str(value.get("name", "")), value.get("response")))


def read_contents(body: JSON, request_type: str = "GenerateContentRequest") -> Prompt:
    """Validate and count `systemInstruction` and `contents`."""
    contents = _list(_get(body, "contents"), "contents", "Content")
    if not contents:
        raise _invalid(request_type, "contents", "contents is not specified")
    system = _get(body, "systemInstruction")
    entries = [("system_instruction", system)] if system is not None else []
    entries += [(f"contents[{index}]", content) for index, content in enumerate(contents)]
    prompt = Prompt()
    for at, content in entries:
        content = _object(content, at, "Content")
        _check_fields(content, _CONTENT_FIELDS, at)
        role = content.get("role")
        if role not in (None, "", "user", "model"):
            raise GeminiError(400, "Please use a valid role: user, model.")
        parts = _list(content.get("parts"), f"{at}.parts", "Part")
        if not parts:
            raise _invalid(request_type, f"{at}.parts", "contents.parts must not be empty.")
        turn = Turn()
        for index, part in enumerate(parts):
            _part(part, f"{at}.parts[{index}]", prompt, turn, request_type)
        if role != "model" and content is not system:
            prompt.last = turn
    return prompt


# --- tools, schemas and settings ----------------------------------------------------------------


def _assignments(text: str) -> dict[str, str]:
    """The `name=value` pairs of a prompt (`name="two words"` for spaces; a sentence's final stop dropped)."""
    return {name: value.strip('"').rstrip(".!?") for name, value in _ASSIGNMENT.findall(text)}


def _convert(raw: str, kind: str) -> Any:
    try:
        if kind in ("integer", "number"):
            return int(raw) if kind == "integer" else float(raw)
    except ValueError:
        return None
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower())
    return raw if kind in ("string", "") else None


def _kind(schema: JSON) -> str:
    kind = schema.get("type", "")
    if isinstance(kind, list):  # JSON Schema's ["string", "null"]
        kind = next((k for k in kind if str(k).lower() != "null"), "")
    return str(kind).lower()  # Schema uses "STRING", JSON Schema "string"


def sample(schema: Any, given: dict[str, str], name: str = "") -> Any:
    """A deterministic value for a Schema or JSON Schema: `given[name]` (from `name=value` in the prompt) if
    it converts, else `default`, else the first `enum`, else "example" / 1 / 1.5 / true / `minItems` (at
    least one) items / every property (in `propertyOrdering` if given)."""
    if not isinstance(schema, dict):
        return "example"
    branches = _get(schema, "anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        return sample(branches[0], given, name)
    kind = _kind(schema)
    if name in given and (value := _convert(given[name], kind)) is not None:
        return value
    if "default" in schema:
        return schema["default"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        order = _get(schema, "propertyOrdering") or list(properties)
        return {key: sample(properties[key], given, key) for key in order if key in properties}
    if kind == "array":
        return [sample(schema.get("items"), given, name) for _ in range(max(int(_get(schema, "minItems") or 1), 1))]
    minimum = schema.get("minimum")
    defaults = {"integer": int(minimum or 1), "number": float(minimum or 1.5), "boolean": True, "null": None}
    return defaults.get(kind, "example")


@dataclass(frozen=True)
class Tools:
    """The function declarations of a request and how it lets the model call them."""

    declarations: tuple[JSON, ...] = ()
    mode: str = "AUTO"
    allowed: tuple[str, ...] = ()

    def calls(self, turn: Turn) -> list[JSON]:
        """The function calls the fake makes after this user turn (see the module docstring)."""
        forced = self.mode in ("ANY", "VALIDATED")
        usable = [d for d in self.declarations if not (forced and self.allowed) or d["name"] in self.allowed]
        if self.mode == "NONE" or not usable or (turn.results and self.mode != "ANY"):
            return []
        named = [d for d in usable if re.search(rf"(?<![\w.-]){re.escape(d['name'])}(?![\w-])", turn.text)]
        chosen = named or (usable[:1] if self.mode == "ANY" else [])
        given = _assignments(turn.text)
        calls = []
        for declaration in chosen:
            schema = _get(declaration, "parameters") or _get(declaration, "parametersJsonSchema")
            args = sample(schema, given) if schema else {}
            calls.append({"name": declaration["name"], "args": args if isinstance(args, dict) else {}})
        return calls


def read_tools(body: JSON) -> Tools:
    declarations: list[JSON] = []
    for i, tool in enumerate(_list(_get(body, "tools"), "tools", "Tool")):
        at = f"tools[{i}]"
        listed = _list(_get(_object(tool, at, "Tool"), "functionDeclarations"), f"{at}.function_declarations",
                       "FunctionDeclaration")
        for j, declaration in enumerate(listed):
            declaration = _object(declaration, f"{at}.function_declarations[{j}]", "FunctionDeclaration")
            if not isinstance(declaration.get("name"), str) or not declaration["name"]:
                raise _invalid("GenerateContentRequest", f"{at}.function_declarations[{j}].name",
                               "Name cannot be empty.")
            declarations.append(declaration)
    tool_config = _object(_get(body, "toolConfig") or {}, "tool_config", "ToolConfig")
    at = "tool_config.function_calling_config"
    config = _object(_get(tool_config, "functionCallingConfig") or {}, at, "FunctionCallingConfig")
    mode = config.get("mode") or "AUTO"
    if mode not in _MODES:
        raise _invalid_value(f"{at}.mode", "FunctionCallingConfig.Mode", mode)
    allowed = _list(_get(config, "allowedFunctionNames"), f"{at}.allowed_function_names", "TYPE_STRING")
    return Tools(tuple(declarations), "AUTO" if mode == "MODE_UNSPECIFIED" else mode, tuple(map(str, allowed)))


def _unblocked(body: JSON) -> frozenset[str]:
    """The harm categories whose blocking the request's `safetySettings` turn off."""
    off: set[str] = set()
    for i, setting in enumerate(_list(_get(body, "safetySettings"), "safety_settings", "SafetySetting")):
        setting = _object(setting, f"safety_settings[{i}]", "SafetySetting")
        category, threshold = setting.get("category"), setting.get("threshold")
        if category not in _CATEGORIES:
            raise _invalid_value(f"safety_settings[{i}].category", "HarmCategory", category)
        if threshold not in _THRESHOLDS:
            raise _invalid_value(f"safety_settings[{i}].threshold", "HarmBlockThreshold", threshold)
        if threshold in ("BLOCK_NONE", "OFF"):
            off.add(str(category))
    return frozenset(off)


@dataclass(frozen=True)
class Settings:
    """The parts of `generationConfig` that shape the reply."""

    candidates: int = 1
    max_tokens: int | None = None
    stops: tuple[str, ...] = ()
    mime: str = "text/plain"
    schema: Any = None
    thoughts: int = 0
    include_thoughts: bool = False


def read_settings(body: JSON, model: GeminiModel) -> Settings:
    at = "generation_config"
    config = _object(_get(body, "generationConfig") or {}, at, "GenerationConfig")
    _check_fields(config, _CONFIG_FIELDS, at)
    candidates = _int(config, "candidateCount", at) or 1  # 0 is protobuf's "unset"
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise _invalid("GenerateContentRequest", f"{at}.candidate_count",
                       f"candidate_count must be between 1 and {MAX_CANDIDATES}.")
    temperature = _float(config, "temperature", at)
    if temperature is not None and not 0 <= temperature <= 2:
        raise _invalid("GenerateContentRequest", f"{at}.temperature", "temperature must be between 0.0 and 2.0.")
    _float(config, "topP", at)
    _int(config, "topK", at)
    max_tokens = _int(config, "maxOutputTokens", at)
    if max_tokens is not None and max_tokens < 0:
        raise _invalid("GenerateContentRequest", f"{at}.max_output_tokens", "max_output_tokens must be positive.")
    stops = tuple(map(str, _list(_get(config, "stopSequences"), f"{at}.stop_sequences", "TYPE_STRING")))
    if len(stops) > MAX_STOP_SEQUENCES:
        raise _invalid("GenerateContentRequest", f"{at}.stop_sequences",
                       f"stop_sequences must have at most {MAX_STOP_SEQUENCES} entries.")
    thinking = _object(_get(config, "thinkingConfig") or {}, f"{at}.thinking_config", "ThinkingConfig")
    budget = _int(thinking, "thinkingBudget", f"{at}.thinking_config")
    if budget == 0 and model.thinking == "always":
        raise GeminiError(400, "Budget 0 is invalid. This model only works in thinking mode.")
    thinks = model.thinking == "always" or (model.thinking == "default" and budget != 0)
    thinks = thinks or (model.thinking == "optional" and budget not in (None, 0))
    schema = _get(config, "responseSchema") or _get(config, "responseJsonSchema")
    return Settings(
        candidates,
        max_tokens or None,
        stops,
        str(_get(config, "responseMimeType") or "text/plain"),
        schema,
        (min(THOUGHT_TOKENS, budget) if budget and budget > 0 else THOUGHT_TOKENS) if thinks else 0,
        bool(_get(thinking, "includeThoughts")),
    )


def read_prompt(body: JSON, request_type: str = "GenerateContentRequest") -> tuple[Prompt, Tools]:
    """Validate a request's system instruction, contents and tools; the prompt counts all three."""
    prompt, tools = read_contents(body, request_type), read_tools(body)
    prompt.count("TEXT", sum(words(json.dumps(d)) for d in tools.declarations))
    return prompt, tools


# --- generateContent ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The answer to one generateContent request, before it is shaped as a response or a stream."""

    prompt: Prompt
    candidates: int = 1
    text: str = ""
    finish: str = "STOP"
    calls: tuple[JSON, ...] = ()
    thoughts: int = 0
    summary: str = ""  # the thought summary part (includeThoughts)
    blocked: Literal["", "prompt", "candidate"] = ""

    @property
    def output_tokens(self) -> int:
        if self.blocked:
            return 0
        each = sum(words(json.dumps({"functionCall": c})) for c in self.calls) if self.calls else words(self.text)
        return each * self.candidates


def _said(word: str, text: str) -> bool:
    return re.search(rf"\b{word}\b", text, re.IGNORECASE) is not None


def _reply_text(turn: Turn, settings: Settings) -> str:
    if turn.results:
        text = "results: " + "; ".join(f"{name} returned {json.dumps(result)}" for name, result in turn.results)
    else:
        text = "echo: " + turn.text + (f" [images: {turn.images}]" if turn.images else "")
    schema = settings.schema if isinstance(settings.schema, dict) else None
    if settings.mime == "application/json":
        return json.dumps(sample(schema, _assignments(turn.text)) if schema else {"echo": text})
    if settings.mime == "text/x.enum" and schema and isinstance(schema.get("enum"), list) and schema["enum"]:
        return str(schema["enum"][0])
    return text


def plan_generate(body: JSON, model: GeminiModel) -> Plan:
    """Validate a GenerateContentRequest and decide its answer."""
    _check_fields(body, _REQUEST_FIELDS, "")
    prompt, tools = read_prompt(body)
    settings = read_settings(body, model)
    if prompt.tokens > model.input_limit:
        raise context_exceeded(prompt.tokens)
    if "HARM_CATEGORY_DANGEROUS_CONTENT" not in _unblocked(body):
        if _said(PROMPT_TRIGGER, prompt.last.text):
            return Plan(prompt, blocked="prompt")
        if _said(CANDIDATE_TRIGGER, prompt.last.text):
            return Plan(prompt, settings.candidates, finish="SAFETY", blocked="candidate")
    thinks = settings.include_thoughts and settings.thoughts
    summary = f"**Answering the user**\n\nThe user wrote: {prompt.last.text}" if thinks else ""
    calls = tools.calls(prompt.last)
    if calls:
        return Plan(prompt, settings.candidates, calls=tuple(calls), thoughts=settings.thoughts, summary=summary)
    text = _reply_text(prompt.last, settings)
    text = text[: min((text.find(stop) for stop in settings.stops if stop and stop in text), default=len(text))]
    reply = text_reply(text, settings.max_tokens)
    finish = "MAX_TOKENS" if reply.finish_reason == "length" else "STOP"
    return Plan(prompt, settings.candidates, reply.text, finish, thoughts=settings.thoughts, summary=summary)


def _ratings() -> list[JSON]:
    return [
        {"category": c, "probability": "HIGH", "blocked": True}
        if c == "HARM_CATEGORY_DANGEROUS_CONTENT"
        else {"category": c, "probability": "NEGLIGIBLE"}
        for c in HARM_CATEGORIES
    ]


def _usage(plan: Plan, output: int) -> JSON:
    usage: JSON = {"promptTokenCount": plan.prompt.tokens}
    if output:
        usage["candidatesTokenCount"] = output
    usage["totalTokenCount"] = plan.prompt.tokens + output + plan.thoughts
    usage["promptTokensDetails"] = plan.prompt.details()
    if plan.thoughts:
        usage["thoughtsTokenCount"] = plan.thoughts
    return usage


def _response(plan: Plan, meta: tuple[str, str], parts: list[JSON], finish: str | None, output: int) -> JSON:
    """One GenerateContentResponse (the whole answer, or one stream chunk) whose candidates carry `parts`."""
    result: JSON = {}
    if plan.blocked == "prompt":
        result["promptFeedback"] = {"blockReason": "SAFETY", "safetyRatings": _ratings()}
    elif plan.blocked == "candidate":
        result["candidates"] = [
            {"finishReason": "SAFETY", "index": i, "safetyRatings": _ratings()} for i in range(plan.candidates)
        ]
    else:
        ending = {"finishReason": finish} if finish else {}
        content = {"parts": parts, "role": "model"}
        result["candidates"] = [{"content": content} | ending | {"index": i} for i in range(plan.candidates)]
    return result | {"usageMetadata": _usage(plan, output), "modelVersion": meta[0], "responseId": meta[1]}


def _summary_parts(plan: Plan) -> list[JSON]:
    return [{"text": plan.summary, "thought": True}] if plan.summary else []


def _call_parts(plan: Plan) -> list[JSON]:
    signature = base64.b64encode(hashlib.sha256(json.dumps(plan.calls).encode()).digest() * 2).decode()
    return [
        {"functionCall": call} | ({"thoughtSignature": signature} if index == 0 and plan.thoughts else {})
        for index, call in enumerate(plan.calls)
    ]


def generate_response(plan: Plan, meta: tuple[str, str]) -> JSON:
    """The GenerateContentResponse of a plan; `meta` is (modelVersion, responseId)."""
    parts = _summary_parts(plan) + (_call_parts(plan) if plan.calls else [{"text": plan.text}])
    return _response(plan, meta, parts, plan.finish, plan.output_tokens)


def stream_chunks(plan: Plan, meta: tuple[str, str]) -> list[JSON]:
    """The responses streamGenerateContent sends: a thought summary first, then the text 4 words at a time
    (or the calls whole), usage so far on each, finishReason on the last."""
    chunks = [_response(plan, meta, _summary_parts(plan), None, 0)] if plan.summary else []
    if plan.blocked or plan.calls:
        return [*chunks, _response(plan, meta, _call_parts(plan), plan.finish, plan.output_tokens)]
    split = pieces(plan.text)
    groups = ["".join(split[i : i + CHUNK_WORDS]) for i in range(0, len(split), CHUNK_WORDS)] or [""]
    sent = 0
    for index, group in enumerate(groups):
        sent += words(group)
        finish = plan.finish if index == len(groups) - 1 else None
        chunks.append(_response(plan, meta, [{"text": group}], finish, sent * plan.candidates))
    return chunks


# --- countTokens, embeddings and models ---------------------------------------------------------


def count_tokens(body: JSON) -> JSON:
    """A CountTokensRequest: `contents`, or a whole `generateContentRequest` (system instruction and tools
    count too)."""
    _check_fields(body, _names("contents generateContentRequest"), "")
    inner = _get(body, "generateContentRequest")
    if inner is not None:
        body = _object(inner, "generate_content_request", "GenerateContentRequest")
        _check_fields(body, _REQUEST_FIELDS, "generate_content_request")
    prompt, _ = read_prompt(body, "CountTokensRequest" if inner is None else "GenerateContentRequest")
    return {"totalTokens": prompt.tokens, "promptTokensDetails": prompt.details()}


def _embedding(request: JSON, model: GeminiModel, prefix: str, request_type: str) -> JSON:
    _check_fields(request, _EMBED_FIELDS, prefix.rstrip("."))
    content = _object(_get(request, "content"), f"{prefix}content", "Content")
    parts = _list(content.get("parts"), f"{prefix}content.parts", "Part")
    if not parts:
        raise _invalid(request_type, f"{prefix}content.parts", "contents.parts must not be empty.")
    text = "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))
    task = _get(request, "taskType") or "TASK_TYPE_UNSPECIFIED"
    if task not in TASK_TYPES:
        raise _invalid_value(f"{prefix}task_type", "TaskType", task)
    dims = _int(request, "outputDimensionality", prefix.rstrip(".")) or model.dimensions
    if not 1 <= dims <= model.dimensions:
        raise _invalid(request_type, f"{prefix}output_dimensionality",
                       f"output_dimensionality must be between 1 and {model.dimensions}.")
    vector = embedding_vector(f"gemini:{model.name}:{task}:{text}".encode(), model.dimensions)
    return {"values": vector[:dims]}


def embed_content(body: JSON, model: GeminiModel) -> JSON:
    return {"embedding": _embedding(body, model, "", "EmbedContentRequest")}


def batch_embed_contents(body: JSON, model: GeminiModel) -> JSON:
    kind = "BatchEmbedContentsRequest"
    _check_fields(body, _names("requests"), "")
    requests = _list(_get(body, "requests"), "requests", "EmbedContentRequest")
    if not requests:
        raise _invalid(kind, "requests", "requests is not specified")
    if len(requests) > MAX_BATCH:
        raise _invalid(kind, "requests", f"at most {MAX_BATCH} requests can be in one batch")
    embeddings = []
    for index, request in enumerate(requests):
        request = _object(request, f"requests[{index}]", "EmbedContentRequest")
        name = request.get("model")
        if not isinstance(name, str) or not name.startswith("models/"):
            raise _invalid(kind, f"requests[{index}].model", "unexpected model name format")
        if name != f"models/{model.name}":
            raise _invalid(kind, f"requests[{index}].model",
                           f"the model must be the same as the model in the URL (models/{model.name}).")
        embeddings.append(_embedding(request, model, f"requests[{index}].", kind))
    return {"embeddings": embeddings}


def _page_token(name: str) -> str:
    return base64.urlsafe_b64encode(f"after:{name}".encode()).decode().rstrip("=")


def models_page(query: str) -> JSON:
    """`GET /{v}/models`: `pageSize` (default 50, at most 1000) models from `pageToken` on."""
    params = {name: values[-1] for name, values in parse_qs(query).items()}
    size = params.get("pageSize", params.get("page_size", ""))
    if size and not size.isdigit():
        raise _invalid_value("page_size", "TYPE_INT32", size)
    count = min(int(size or 0) or _DEFAULT_PAGE_SIZE, 1000)
    token = params.get("pageToken", params.get("page_token", ""))
    tokens = {_page_token(m.name): index for index, m in enumerate(MODELS)}
    if token and token not in tokens:
        raise _invalid("ListModelsRequest", "page_token", "the page token is not valid.")
    start = tokens.get(token, 0)
    result: JSON = {"models": [m.wire() for m in MODELS[start : start + count]]}
    if start + count < len(MODELS):
        result["nextPageToken"] = _page_token(MODELS[start + count].name)
    return result


# --- the server ---------------------------------------------------------------------------------


_CALLS = {"generateContent": "generateContent", "streamGenerateContent": "generateContent",
          "countTokens": "countTokens", "embedContent": "embedContent", "batchEmbedContents": "embedContent"}


class FakeGemini(FakeUpstream):
    """The fake Gemini API; also usable as `with FakeGemini() as fake:`."""

    server_name = "fake-gemini"
    fault_kinds = FAULT_KINDS | {"cut"}

    def __init__(self, api_key: str | None = "gemini-fake-upstream-key") -> None:
        super().__init__(api_key)

    async def handle(self, request: Request, ex: Exchange) -> None:
        match = _ROUTE.fullmatch(request.path)
        version, name, method = match.groups() if match else ("", None, None)
        if match is None or request.method != ("POST" if method else "GET") or (method and method not in _CALLS):
            page = _NOT_FOUND_PAGE.format(path=request.path).encode()
            raise HTTPError(404, page, "text/html; charset=UTF-8")
        self._authenticate(request)
        if name is None:
            await self._json(ex, models_page(request.query))
        elif method is None:
            if name not in _BY_NAME:
                raise GeminiError(404, f"Model is not found: models/{name} for api version {version}")
            await self._json(ex, _BY_NAME[name].wire())
        else:
            await self._call(request, ex, version, name, method)

    def _authenticate(self, request: Request) -> None:
        if self.api_key is None:
            return
        keys = parse_qs(request.query).get("key", [])
        key = request.headers.get("x-goog-api-key") or (keys[-1] if keys else "")
        if not key:
            raise GeminiError(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). Please use "
                "API Key or other form of API consumer identity to call this API.",
            )
        if key != self.api_key:
            raise api_key_invalid()

    async def _call(self, request: Request, ex: Exchange, version: str, name: str, method: str) -> None:
        body = _decode(request.body)
        fault = self.fault_for(name)
        kind = fault.kind if fault is not None else ""
        if fault is not None and kind == "status":
            raise fault_status(fault.status, name, version, _CALLS[method])
        context = "fault-context" in (name, self.fault)
        model = _resolve(name, _CALLS[method], version, fault is not None or context)
        meta = (name, base64.urlsafe_b64encode(secrets.token_bytes(17)).decode().rstrip("="))  # 23 chars, as Google's
        tokens = 0
        if method in ("generateContent", "streamGenerateContent"):
            plan = plan_generate(body, model)
            tokens = plan.prompt.tokens
            answer = stream_chunks(plan, meta) if method == "streamGenerateContent" else [generate_response(plan, meta)]
        elif method == "countTokens":
            answer = [count_tokens(body)]
        else:
            answer = [(embed_content if method == "embedContent" else batch_embed_contents)(body, model)]
        if context:
            raise context_exceeded(MAX_INPUT_TOKENS + tokens)
        if fault is not None and kind == "stall" and not await self.stall(ex, fault.value):
            return
        cut = int(fault.value) if fault is not None and kind == "cut" else None
        if method == "streamGenerateContent":
            await self._stream(ex, answer, parse_qs(request.query).get("alt") == ["sse"], cut, kind == "garbage")
        elif kind == "garbage":
            await ex.garbage()
        elif cut is not None:
            data = _pretty(answer[0])
            await self.stream(ex, _JSON_TYPE, [data[: len(data) // 2]], headers=_HEADERS, length=len(data), cut=1)
        else:
            await self._json(ex, answer[0])

    async def _json(self, ex: Exchange, payload: JSON) -> None:
        await ex.body(200, _pretty(payload), _JSON_TYPE, _HEADERS)

    async def _stream(self, ex: Exchange, chunks: list[JSON], sse_mode: bool, cut: int | None, garbage: bool) -> None:
        """SSE (`data: <json>\\r\\n\\r\\n` per event) or, without `alt=sse`, one JSON array sent piecewise."""
        if sse_mode:
            events = [sse(GARBAGE, b"\r\n\r\n")] if garbage else [sse(chunk, b"\r\n\r\n") for chunk in chunks]
            await self.stream(ex, "text/event-stream", events, headers=_HEADERS, cut=cut)
            return
        if garbage:
            await ex.garbage()
            return
        events = [(b"[" if index == 0 else b"\n,\r\n") + _pretty(chunk) for index, chunk in enumerate(chunks)]
        events[-1] += b"]"
        await self.stream(ex, _JSON_TYPE, events, headers=_HEADERS, cut=cut)
