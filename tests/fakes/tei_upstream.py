"""A faithful fake of Hugging Face Text Embeddings Inference (TEI) for tests: `FakeTEI`.

TEI (huggingface/text-embeddings-inference, `router/src/http/server.rs`) serves one model, either an embedding
model or a reranker (a sequence classifier with one label). Routes:

* `GET /info` → `{"model_id", "model_sha", "model_dtype", "model_type": {"embedding": {"pooling"}} |
  {"reranker": {"id2label", "label2id"}}, "max_concurrent_requests", "max_input_length", "max_batch_tokens",
  "max_batch_requests", "max_client_batch_size", "auto_truncate", "tokenization_workers", "version", "sha",
  "docker_label"}`.
* `POST /rerank` `{query, texts, truncate?, raw_scores?, return_text?, truncation_direction?}` → a bare list
  `[{"index", "score", "text"?}]` sorted by score (best first); `text` only with `return_text`. Scores are the
  sigmoid of the classifier logit (`relevance.relevance`), or the logit itself with `raw_scores`.
* `POST /embed` `{inputs: str | [str], truncate?, normalize=true, ...}` → `[[float, ...], ...]`.
* `POST /v1/embeddings` (also `/embeddings`) `{input, model?, encoding_format?: "float" | "base64"}` → the
  OpenAI list object, `model` being TEI's `model_id` whatever the request said.
* `POST /` (and `/invocations`) is `/rerank` on a reranker, `/embed` on an embedding model.
* `GET /health` (also `GET /`, `GET /ping`) → 200 with an empty body; these never need the API key.

Errors are `{"error": "...", "error_type": "Validation" | "Tokenizer" | "Backend" | "Overloaded" | "Empty" |
"Unhealthy"}` with 413 / 422 / 424 / 429 / 400 / 503; `/v1/embeddings` answers them as `{"message", "code",
"type"}`. Empty `texts`/`inputs` → 400 Empty; more than `max_client_batch_size` → 413 Validation `batch size N >
maximum allowed batch size M`; an input longer than `max_input_length` tokens without truncation → 413
Validation `Input validation error: \\`inputs\\` must have less than M tokens. Given: N`; `/rerank` on an embedding
model → 424 Backend `Backend error: model is not a re-ranker model`; `/embed` on a reranker → 424 Backend
`Backend error: Model is not an embedding model`. Bodies axum cannot read are plain text: a wrong Content-Type
→ 415, unparsable JSON → 400, a missing field or wrong type → 422. With an `api_key`, every non-health route
needs `Authorization: Bearer <key>` exactly, else 401 with an empty body. Tokens are `relevance.word_count`
words; vectors are `openai_wire.embedding_vector` (the same as `FakeOpenAI`'s for the same text).

TEI's request bodies have no model field it reads; faults come from a `model` field if the request carries one
(TEI ignores unknown fields), else from the server-wide `fault` attribute: `fault-status-<code>` (TEI's body for
it), `fault-stall-<seconds>`, `fault-garbage`.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from tests.fakes import openai_wire as wire
from tests.fakes.relevance import relevance, word_count
from tests.fakes.upstream_kit import (
    JSON,
    Exchange,
    FakeUpstream,
    HTTPError,
    Request,
    logit,
)

__all__ = ["FakeTEI", "TEIError"]

ModelType = Literal["embedding", "reranker"]
VERSION = "1.8.2"
_HEALTH = {"/health", "/ping"}
_POST = {"/rerank", "/embed", "/v1/embeddings", "/embeddings", "/invocations"}
_TIMING = {"x-compute-type": "gpu+optimized", "x-tokenization-time": "0", "x-queue-time": "0",
           "x-inference-time": "1", "x-total-time": "1", "x-compute-time": "1"}


class TEIError(HTTPError):
    """TEI's `ErrorResponse`, or its OpenAI-compatible form on `/v1/embeddings`."""

    STATUS = {"Empty": 400, "Validation": 413, "Tokenizer": 422, "Backend": 424, "Overloaded": 429,
              "Unhealthy": 503}

    def __init__(self, error_type: str, message: str, *, openai: bool = False) -> None:
        status = self.STATUS[error_type]
        payload: JSON = (
            {"message": message, "code": status, "type": error_type}
            if openai
            else {"error": message, "error_type": error_type}
        )
        super().__init__(status, msgspec.json.encode(payload))
        self.error_type = error_type
        self.message = message


def _rejection(status: int, text: str) -> HTTPError:
    """An axum extractor rejection: plain text, before the handler runs."""
    return HTTPError.text(status, text)


class FakeTEI(FakeUpstream):
    """The fake TEI server; also usable as `with FakeTEI(model_type="reranker") as fake:`."""

    server_name = "fake-tei"

    def __init__(
        self,
        api_key: str | None = None,
        model_type: ModelType = "embedding",
        *,
        model_id: str | None = None,
        max_input_length: int = 512,
        max_client_batch_size: int = 32,
        auto_truncate: bool = False,
        dims: int = wire.DEFAULT_EMBEDDING_DIMS,
    ) -> None:
        super().__init__(api_key)
        if model_type not in ("embedding", "reranker"):
            raise ValueError(f"model_type must be 'embedding' or 'reranker', not {model_type!r}")
        self.model_type: ModelType = model_type
        default_id = "BAAI/bge-reranker-v2-m3" if model_type == "reranker" else "BAAI/bge-m3"
        self.model_id = model_id or default_id
        self.max_input_length = max_input_length
        self.max_client_batch_size = max_client_batch_size
        self.auto_truncate = auto_truncate
        self.dims = dims

    def info(self) -> JSON:
        kind: JSON = (
            {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
            if self.model_type == "reranker"
            else {"embedding": {"pooling": "cls"}}
        )
        return {
            "model_id": self.model_id,
            "model_sha": None,
            "model_dtype": "float16",
            "model_type": kind,
            "max_concurrent_requests": 512,
            "max_input_length": self.max_input_length,
            "max_batch_tokens": 16384,
            "max_batch_requests": None,
            "max_client_batch_size": self.max_client_batch_size,
            "auto_truncate": self.auto_truncate,
            "tokenization_workers": 4,
            "version": VERSION,
            "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "docker_label": "sha-a1b2c3d",
        }

    # --- routing --------------------------------------------------------------------------------

    async def handle(self, request: Request, ex: Exchange) -> None:
        path, method = request.path, request.method
        if path in _HEALTH or (path == "/" and method == "GET"):
            if method != "GET":
                raise HTTPError.empty(405, {"allow": "GET,HEAD"})
            await ex.body(200, b"", None)
            return
        if path == "/info":
            allowed = "GET"
        elif path in _POST or path == "/":
            allowed = "POST"
        else:
            raise HTTPError.empty(404)
        if method != allowed:
            raise HTTPError.empty(405, {"allow": allowed})
        self._authenticate(request)
        if path == "/info":
            await ex.json(200, self.info())
            return
        body = self._extract(request)
        openai = path in ("/v1/embeddings", "/embeddings")
        fault = self.fault_for(body.get("model"))
        if fault is not None:
            if fault.kind == "status":
                raise _fault_status(fault.status, openai=openai)
            if fault.kind == "garbage":
                await ex.garbage()
                return
            if not await self.stall(ex, fault.value):
                return
        if openai:
            await self._openai_embed(ex, body)
        elif path == "/rerank" or (path in ("/", "/invocations") and self.model_type == "reranker"):
            await self._rerank(ex, body)
        else:
            await self._embed(ex, body)

    def _authenticate(self, request: Request) -> None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise HTTPError.empty(401)

    def _extract(self, request: Request) -> JSON:
        """axum's `Json<T>` extractor: content type, syntax, then the shape of the route's request type."""
        media = request.media_type
        if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
            raise _rejection(415, "Expected request with `Content-Type: application/json`")
        try:
            body = msgspec.json.decode(request.body)
        except msgspec.DecodeError as err:
            raise _rejection(400, f"Failed to parse the request body as JSON: {_serde_message(err)}") from None
        if not isinstance(body, dict):
            raise _unprocessable(request, f"invalid type: {_json_kind(body)}, expected a map")
        path = request.path
        if path in ("/", "/invocations"):
            path = "/rerank" if self.model_type == "reranker" else "/embed"
        required = {"/rerank": ("query", "texts"), "/embed": ("inputs",)}.get(path, ("input",))
        for name in required:
            if name not in body:
                raise _unprocessable(request, f"missing field `{name}`")
        if path == "/rerank":
            if not isinstance(body["query"], str):
                raise _unprocessable(request, f"query: invalid type: {_json_kind(body['query'])}, expected a string")
            if not isinstance(body["texts"], list) or not all(isinstance(t, str) for t in body["texts"]):
                raise _unprocessable(request, "texts: invalid type: expected a sequence of strings")
        else:
            name = "inputs" if path == "/embed" else "input"
            if _inputs(body[name]) is None:
                raise _unprocessable(request, f"{name}: data did not match any variant of untagged enum Input")
        return body

    # --- handlers -------------------------------------------------------------------------------

    def _truncate(self, body: JSON) -> bool:
        value = body.get("truncate")
        return value if isinstance(value, bool) else self.auto_truncate

    def _check_batch(self, size: int, *, openai: bool = False) -> None:
        if size > self.max_client_batch_size:
            message = f"batch size {size} > maximum allowed batch size {self.max_client_batch_size}"
            raise TEIError("Validation", message, openai=openai)

    def _check_length(self, tokens: int, truncate: bool, *, openai: bool = False) -> int:
        if tokens > self.max_input_length and not truncate:
            message = (f"Input validation error: `inputs` must have less than {self.max_input_length} tokens. "
                       f"Given: {tokens}")
            raise TEIError("Validation", message, openai=openai)
        return min(tokens, self.max_input_length)

    async def _rerank(self, ex: Exchange, body: JSON) -> None:
        query: str = body["query"]
        texts: list[str] = body["texts"]
        if not texts:
            raise TEIError("Empty", "`texts` cannot be empty")
        if self.model_type != "reranker":
            raise TEIError("Backend", "Backend error: model is not a re-ranker model")
        self._check_batch(len(texts))
        truncate = self._truncate(body)
        tokens = sum(self._check_length(word_count(query) + word_count(t), truncate) for t in texts)
        raw = body.get("raw_scores") is True
        ranks: list[JSON] = []
        for index, text in enumerate(texts):
            score = relevance(query, text)
            rank: JSON = {"index": index, "score": logit(score) if raw else score}
            if body.get("return_text") is True:
                rank = {"index": index, "text": text, "score": rank["score"]}
            ranks.append(rank)
        ranks.sort(key=lambda r: float(r["score"]), reverse=True)
        chars = sum(len(query) + len(t) for t in texts)
        await ex.json(200, ranks, self._metadata(chars, tokens))

    def _vectors(self, items: Sequence[str | list[int]], body: JSON, *, openai: bool) -> tuple[list[list[float]], int]:
        if not items:
            raise TEIError("Empty", "`inputs` cannot be empty", openai=openai)
        self._check_batch(len(items), openai=openai)
        if self.model_type != "embedding":
            raise TEIError("Backend", "Backend error: Model is not an embedding model", openai=openai)
        truncate = self.auto_truncate if openai else self._truncate(body)
        normalize = openai or body.get("normalize") is not False
        vectors, tokens = [], 0
        for item in items:
            if isinstance(item, str):
                key, count = b"s:" + item.encode(), word_count(item)
            else:
                key, count = b"t:" + ",".join(map(str, item)).encode(), len(item)
            tokens += self._check_length(count, truncate, openai=openai)
            vector = wire.embedding_vector(key, self.dims)
            scale = 1.0 if normalize else 1.0 + count
            vectors.append([v * scale for v in vector])
        return vectors, tokens

    async def _embed(self, ex: Exchange, body: JSON) -> None:
        items = _inputs(body["inputs"]) or []
        vectors, tokens = self._vectors(items, body, openai=False)
        chars = sum(len(i) for i in items if isinstance(i, str))
        await ex.json(200, vectors, self._metadata(chars, tokens))

    async def _openai_embed(self, ex: Exchange, body: JSON) -> None:
        items = _inputs(body["input"]) or []
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise _rejection(422, "Failed to deserialize the JSON body into the target type: encoding_format: "
                                  f"unknown variant `{encoding}`, expected `float` or `base64`")
        vectors, tokens = self._vectors(items, body, openai=True)
        data = [
            {"object": "embedding",
             "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if encoding == "base64" else v,
             "index": index}
            for index, v in enumerate(vectors)
        ]
        response = {"object": "list", "data": data, "model": self.model_id,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        chars = sum(len(i) for i in items if isinstance(i, str))
        await ex.json(200, response, self._metadata(chars, tokens))

    @staticmethod
    def _metadata(chars: int, tokens: int) -> dict[str, str]:
        return _TIMING | {"x-compute-characters": str(chars), "x-compute-tokens": str(tokens)}


def _fault_status(status: int, *, openai: bool) -> HTTPError:
    """TEI's answer with `status`: its own error body where TEI has one for that status."""
    if status == 401:
        return HTTPError.empty(401)
    by_status = {
        400: ("Empty", "`inputs` cannot be empty"),
        413: ("Validation", "batch size 64 > maximum allowed batch size 32"),
        422: ("Tokenizer", "tokenizer error Truncation error: Sequence to truncate too short to respect the "
                           "provided max_length"),
        424: ("Backend", "Backend error: Inference failed"),
        429: ("Overloaded", "Model is overloaded"),
        503: ("Unhealthy", "unhealthy"),
    }
    if status in by_status:
        return TEIError(*by_status[status], openai=openai)
    return HTTPError.empty(status)


def _inputs(value: Any) -> list[str | list[int]] | None:
    """TEI's `Input` (a string, token ids, or a batch of either) as a batch; None if it matches no variant."""
    if isinstance(value, str) or _ids(value):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) or _ids(v) for v in value):
        return list(value)
    return None


def _ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if value is None:
        return "null"
    return "sequence" if isinstance(value, list) else "map"


def _position(body: bytes) -> tuple[int, int]:
    """serde_json's position at the end of a document: (line, column), both 1-based."""
    text = body.decode("utf-8", errors="replace").rstrip()
    line = text.count("\n") + 1
    return line, len(text) - (text.rfind("\n") + 1)


def _unprocessable(request: Request, message: str) -> HTTPError:
    line, column = _position(request.body)
    return _rejection(422, f"Failed to deserialize the JSON body into the target type: {message} "
                           f"at line {line} column {column}")


def _serde_message(err: msgspec.DecodeError) -> str:
    """serde_json's wording for a syntax error, at the byte msgspec stopped at."""
    match = re.search(r"\(byte (\d+)\)", str(err))
    column = int(match.group(1)) + 1 if match else 1
    return f"expected value at line 1 column {column}"
