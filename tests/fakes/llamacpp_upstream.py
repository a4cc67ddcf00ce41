"""A faithful fake of llama.cpp's HTTP server in reranking mode (`llama-server --reranking`): `FakeLlamaCppRerank`.

llama.cpp (ggml-org/llama.cpp, `tools/server`) serves one GGUF model. Routes:

* `POST /v1/rerank` (same handler: `/rerank`, `/v1/reranking`, `/reranking`) `{model?, query, documents,
  top_n?}` → `{"model": <request model, else the server's model name>, "object": "list", "usage":
  {"prompt_tokens", "total_tokens"}, "results": [{"index", "relevance_score"}]}` (Jina's shape). Results are
  sorted best first and cut to `top_n` (default: all); there is no `document` field. `relevance_score` is the
  reranker head's raw output, a logit (`upstream_kit.logit(relevance)`), not a probability. A body with `texts`
  instead of `documents` gets TEI's shape: a bare list `[{"index", "score", "text"?}]` (`text` with
  `return_text`).
* `GET /health` (also `/v1/health`) → `{"status": "ok"}`; `GET /v1/models` (also `/models`) → `{"models":
  [...], "object": "list", "data": [{"id", "object": "model", "created", "owned_by": "llamacpp", "meta"}]}`.
  Both never need the API key (llama.cpp's public endpoints).

Errors are `{"error": {"code": <status>, "message", "type"}}`: no `query` → 400 `"query" must be provided`; a
non-string query → 400 `"query" must be a string`; no usable `documents` (nor `texts`) → 400 `"documents" must
be a non-empty string array`; a query + document longer than the physical batch (`n_ubatch` tokens) → 500
`server_error` `input (N tokens) is too large to process. increase the physical batch size (current batch size:
M)`; a body that is not JSON → 500 `server_error` (nlohmann's parse error); an unknown path → 404 `File Not
Found`. With an `api_key`: anything but the public endpoints needs `Authorization: Bearer <key>`, else 401
`{"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}`. Token counts (usage,
the batch limit) are `relevance.word_count` of query plus document, per document.

Faults are chosen by the request's `model` (llama.cpp echoes it and serves its one model whatever it says), or
by the server-wide `fault` attribute: `fault-status-<code>` (llama.cpp's error body for it),
`fault-stall-<seconds>`, `fault-garbage`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from tests.fakes.relevance import relevance, word_count
from tests.fakes.upstream_kit import JSON, Exchange, FakeUpstream, HTTPError, Request, logit

__all__ = ["FakeLlamaCppRerank", "LlamaCppError"]

_CONTENT_TYPE = "application/json; charset=utf-8"
_RERANK = {"/rerank", "/reranking", "/v1/rerank", "/v1/reranking"}
_HEALTH = {"/health", "/v1/health"}
_MODELS = {"/models", "/v1/models"}
_PUBLIC = {"/health", "/models", "/v1/models", "/api/tags", "/"}
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    500: "server_error",
    501: "not_supported_error",
    503: "unavailable_error",
}


class LlamaCppError(HTTPError):
    """llama.cpp's `format_error_response`, sent by `res_error`: `{"error": {"code", "message", "type"}}`."""

    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        error = {"code": status, "message": message, "type": kind or _TYPES.get(status, "server_error")}
        super().__init__(status, msgspec.json.encode({"error": error}), _CONTENT_TYPE)
        self.message = message


class FakeLlamaCppRerank(FakeUpstream):
    """The fake llama-server in reranking mode; also usable as `with FakeLlamaCppRerank() as fake:`."""

    server_name = "fake-llamacpp-rerank"

    def __init__(
        self, api_key: str | None = None, *, model_name: str = "bge-reranker-v2-m3", n_ubatch: int = 512
    ) -> None:
        super().__init__(api_key)
        self.model_name = model_name
        self.n_ubatch = n_ubatch
        self.created = int(time.time())

    def models(self) -> JSON:
        meta = {"vocab_type": 1, "n_vocab": 250002, "n_ctx_train": 8192, "n_embd": 1024, "n_params": 567754752,
                "size": 631743488}
        listed = {"name": self.model_name, "model": self.model_name, "modified_at": "", "size": "", "digest": "",
                  "type": "model", "description": "", "tags": [""], "capabilities": ["completion"],
                  "parameters": "", "details": {"parent_model": "", "format": "gguf", "family": "", "families": [""],
                                                "parameter_size": "", "quantization_level": ""}}
        data = {"id": self.model_name, "object": "model", "created": self.created, "owned_by": "llamacpp",
                "meta": meta}
        return {"models": [listed], "object": "list", "data": [data]}

    async def handle(self, request: Request, ex: Exchange) -> None:
        path, method = request.path, request.method
        self._authenticate(request)
        if method == "GET" and path in _HEALTH:
            await _ok(ex, {"status": "ok"})
        elif method == "GET" and path in _MODELS:
            await _ok(ex, self.models())
        elif method == "POST" and path in _RERANK:
            await self._rerank(ex, request)
        else:
            raise LlamaCppError(404, "File Not Found")

    def _authenticate(self, request: Request) -> None:
        if self.api_key is None or request.path in _PUBLIC:
            return
        header = request.headers.get("authorization", "")
        if not (header.startswith("Bearer ") and header.removeprefix("Bearer ") == self.api_key):
            raise LlamaCppError(401, "Invalid API Key")

    async def _rerank(self, ex: Exchange, request: Request) -> None:
        body = _parse(request.body)
        if "query" not in body:
            raise LlamaCppError(400, '"query" must be provided')
        query = body["query"]
        if not isinstance(query, str):
            raise LlamaCppError(400, '"query" must be a string')
        tei_format = "texts" in body
        documents = _strings(body.get("documents"))
        if documents is None:
            documents = _strings(body.get("texts")) or []
        if not documents:
            raise LlamaCppError(400, '"documents" must be a non-empty string array')
        top_n = _value(body, "top_n", int, len(documents))
        fault = self.fault_for(body.get("model"))
        if fault is not None:
            if fault.kind == "status":
                raise _fault_status(fault.status)
            if fault.kind == "garbage":
                await ex.garbage()
                return
            if not await self.stall(ex, fault.value):
                return
        counts = [word_count(query) + word_count(d) for d in documents]
        for count in counts:
            if count > self.n_ubatch:
                raise LlamaCppError(500, f"input ({count} tokens) is too large to process. increase the physical "
                                         f"batch size (current batch size: {self.n_ubatch})")
        label = "score" if tei_format else "relevance_score"
        return_text = tei_format and _value(body, "return_text", bool, False)
        elements: list[JSON] = []
        for index, document in enumerate(documents):
            element: JSON = {"index": index, label: logit(relevance(query, document))}
            if return_text:
                element["text"] = document
            elements.append(element)
        elements.sort(key=lambda e: float(e[label]), reverse=True)  # std::sort: best first
        results = elements[: max(0, min(top_n, len(elements)))]
        if tei_format:
            await _ok(ex, results)
            return
        tokens = sum(counts)
        model = _value(body, "model", str, self.model_name)
        await _ok(ex, {"model": model, "object": "list", "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                       "results": results})


async def _ok(ex: Exchange, payload: Any) -> None:
    await ex.body(200, msgspec.json.encode(payload), _CONTENT_TYPE)


def _fault_status(status: int) -> HTTPError:
    messages = {
        400: '"documents" must be a non-empty string array',
        401: "Invalid API Key",
        404: "File Not Found",
        500: "input (1024 tokens) is too large to process. increase the physical batch size (current batch "
             "size: 512)",
        501: "This server does not support reranking. Start it with `--reranking`",
        503: "Loading model",
    }
    return LlamaCppError(status, messages.get(status, f"Injected fault: HTTP {status}"))


def _parse(raw: bytes) -> JSON:
    """`json::parse(req.body)`: nlohmann's exception text in a 500 on a syntax error."""
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as err:
        match = re.search(r"\(byte (\d+)\)", str(err))
        at = int(match.group(1)) if match else 0
        last = raw[: at + 1].decode("utf-8", errors="replace")
        message = (f"[json.exception.parse_error.101] parse error at line 1, column {at + 1}: syntax error while "
                   f"parsing value - invalid literal; last read: '{last}'")
        raise LlamaCppError(500, message) from None
    if not isinstance(body, dict):
        raise LlamaCppError(500, "[json.exception.type_error.302] type must be object, but is "
                                 f"{_nlohmann_kind(body)}")
    return body


def _nlohmann_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "null" if value is None else "number"


def _value(body: JSON, key: str, kind: type[Any], default: Any) -> Any:
    """`json_value(body, key, default)`: the default when the key is absent, null or of the wrong type."""
    value = body.get(key)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return default
    return value


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None
