"""A faithful fake of Jina AI's Embeddings and Reranker APIs (api.jina.ai) for tests: `FakeJina`.

Routes (all `POST`, behind `Authorization: Bearer <key>`), served by `RetrievalUpstream` (see `retrieval_upstream`):

* `/v1/embeddings`: `{model, input: str | [str | {text} | {image}], task, dimensions, normalized: bool = true,
  embedding_type: "float"|"base64"|"binary"|"ubinary" = "float", late_chunking: bool = false, truncate}`
  -> `{model, object: "list", usage: {total_tokens, prompt_tokens}, data: [{object: "embedding", index,
  embedding}]}`. Objects are for the multimodal models (`{image}` only there); `task` is checked against the
  model's adapters and ignored by models without any; unknown fields (e.g. the OpenAI SDK's `encoding_format`) are
  ignored, as pydantic does. `base64` is the little-endian float32 bytes; `binary`/`ubinary` are the sign bits
  packed 8 per byte (int8 offset by -128 / uint8). `normalized: false` scales a vector to norm `1 + tokens`.
  `late_chunking: true` embeds every input in the context of all of them (same count, different vectors).
* `/v1/rerank`: `{model, query, documents: [str | {text} | {image}], top_n, return_documents: bool = true}`
  -> `{model, usage: {total_tokens}, results: [{index, document: {text}, relevance_score}]}`, best first;
  `document` is left out when `return_documents` is false.

Errors: FastAPI's 422 `{"detail": [{type, loc, msg, input, ctx?}]}` for a body that fails validation (bad JSON,
missing or mistyped fields, an unknown `task` or `embedding_type`, empty input); every other error is
`{"detail": "[RID: <32 hex>] <message>"}`: 400 `Model '<m>' not found`, 401 `Authentication required` without a
key and `Invalid API key` with a wrong one, 403 `Insufficient account balance`, 429, 5xx.

Replies are deterministic: a vector is a hash of (model, task, late-chunking context, input) (see
`retrieval_upstream.unit_vector`), tokens are words (an image counts `IMAGE_TOKENS`), rerank scores are
`relevance.relevance` and rerank usage is query tokens x documents + document tokens. Faults are chosen by `model`
(`fault-status-<code>`, `fault-stall-<seconds>`, `fault-garbage`); every request is recorded in `requests`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar, NamedTuple

from tests.fakes.retrieval_upstream import (
    JSON,
    RetrievalUpstream,
    UpstreamError,
    float32_base64,
    quantize,
    rerank_order,
    rerank_tokens,
    text_tokens,
    unit_vector,
)
from tests.fakes.upstream_kit import parse_fault

__all__ = ["EMBEDDING_MODELS", "IMAGE_TOKENS", "RERANK_MODELS", "FakeJina"]

IMAGE_TOKENS = 1000
EMBEDDING_TYPES = ("float", "base64", "binary", "ubinary")
V3_TASKS = ("retrieval.query", "retrieval.passage", "separation", "classification", "text-matching")
V4_TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage")


class Embedder(NamedTuple):
    """What a Jina embedding model accepts."""

    default: int
    tasks: tuple[str, ...]  # empty: the model has no task adapters and ignores `task`
    matryoshka: bool  # `dimensions` may shorten the vector
    images: bool  # accepts `{"image": ...}` inputs


_V2 = Embedder(768, (), False, False)
EMBEDDING_MODELS: dict[str, Embedder] = {
    "jina-embeddings-v3": Embedder(1024, V3_TASKS, True, False),
    "jina-embeddings-v4": Embedder(2048, V4_TASKS, True, True),
    "jina-clip-v2": Embedder(1024, (), True, True),
    "jina-clip-v1": Embedder(768, (), False, True),
    "jina-embeddings-v2-base-en": _V2,
    "jina-embeddings-v2-base-de": _V2,
    "jina-embeddings-v2-base-es": _V2,
    "jina-embeddings-v2-base-zh": _V2,
    "jina-embeddings-v2-base-code": _V2,
}
RERANK_MODELS: dict[str, bool] = {  # accepts `{"image": ...}` documents
    "jina-reranker-v3": False,
    "jina-reranker-m0": True,
    "jina-reranker-v2-base-multilingual": False,
    "jina-reranker-v1-base-en": False,
    "jina-reranker-v1-turbo-en": False,
    "jina-reranker-v1-tiny-en": False,
    "jina-colbert-v2": False,
    "jina-colbert-v1-en": False,
}
_FAULT_EMBEDDER = EMBEDDING_MODELS["jina-embeddings-v3"]


def _error(status: int, message: str) -> UpstreamError:
    return UpstreamError(status, {"detail": f"[RID: {uuid.uuid4().hex}] {message}"})


def _invalid(kind: str, loc: tuple[str | int, ...], msg: str, value: Any, ctx: JSON | None = None) -> UpstreamError:
    """FastAPI's 422 for one pydantic (v2) validation error."""
    item: JSON = {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx is not None:
        item["ctx"] = ctx
    return UpstreamError(422, {"detail": [item]})


def _missing(body: JSON, name: str) -> UpstreamError:
    return _invalid("missing", (name,), "Field required", body)


def _literal(loc: tuple[str | int, ...], value: Any, allowed: tuple[str, ...]) -> UpstreamError:
    quoted = [f"'{a}'" for a in allowed]
    expected = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return _invalid("literal_error", loc, f"Input should be {expected}", value, {"expected": expected})


def _string(body: JSON, name: str) -> str:
    value = body.get(name)
    if name not in body:
        raise _missing(body, name)
    if not isinstance(value, str):
        raise _invalid("string_type", (name,), "Input should be a valid string", value)
    return value


def _bool(body: JSON, name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid("bool_type", (name,), "Input should be a valid boolean", value)
    return value


def _positive_int(body: JSON, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid("int_type", (name,), "Input should be a valid integer", value)
    if value < 1:
        raise _invalid("greater_than_equal", (name,), "Input should be greater than or equal to 1", value, {"ge": 1})
    return value


def _model(body: JSON, models: dict[str, Any]) -> str:
    model = _string(body, "model")
    if model not in models and parse_fault(model) is None:
        raise _error(400, f"Model '{model}' not found")
    return model


class _Item(NamedTuple):
    """One input or document: its text (or image reference) and token count."""

    value: str
    image: bool
    tokens: int


def _item(raw: Any, loc: tuple[str | int, ...], images: bool, model: str) -> _Item:
    if isinstance(raw, str):
        return _Item(raw, False, text_tokens(raw))
    if isinstance(raw, dict) and isinstance(raw.get("text"), str):
        return _Item(raw["text"], False, text_tokens(raw["text"]))
    if isinstance(raw, dict) and isinstance(raw.get("image"), str):
        if not images:
            raise _error(400, f"Model '{model}' does not support image input")
        return _Item(raw["image"], True, IMAGE_TOKENS)
    raise _invalid("string_type", loc, "Input should be a valid string", raw)


def _items(body: JSON, name: str, images: bool, model: str) -> list[_Item]:
    if name not in body:
        raise _missing(body, name)
    raw = body[name]
    if isinstance(raw, str) and name == "input":
        raw = [raw]
    if not isinstance(raw, list):
        raise _invalid("list_type", (name,), "Input should be a valid list", raw)
    if not raw:
        msg = "List should have at least 1 item after validation, not 0"
        raise _invalid("too_short", (name,), msg, raw, {"field_type": "List", "min_length": 1, "actual_length": 0})
    return [_item(value, (name, index), images, model) for index, value in enumerate(raw)]


# --- embeddings ---------------------------------------------------------------------------------


def _task(body: JSON, spec: Embedder) -> str:
    task = body.get("task")
    if task is None or not spec.tasks:
        return ""
    if task not in spec.tasks:
        raise _literal(("task",), task, spec.tasks)
    return str(task)


def _dimensions(body: JSON, spec: Embedder) -> int:
    dims = _positive_int(body, "dimensions")
    if dims is None or not spec.matryoshka:
        return spec.default
    if dims > spec.default:
        msg = f"Input should be less than or equal to {spec.default}"
        raise _invalid("less_than_equal", ("dimensions",), msg, dims, {"le": spec.default})
    return dims


def _embedding(vector: list[float], kind: str) -> Any:
    if kind == "base64":
        return float32_base64(vector)
    if kind == "binary":
        return quantize(vector, "binary")
    if kind == "ubinary":
        return quantize(vector, "ubinary")
    return vector


def embeddings(body: JSON) -> JSON:
    """Validate an embeddings request and build Jina's reply."""
    model = _model(body, EMBEDDING_MODELS)
    spec = EMBEDDING_MODELS.get(model, _FAULT_EMBEDDER)
    items = _items(body, "input", spec.images, model)
    task = _task(body, spec)
    dims = _dimensions(body, spec)
    normalized = _bool(body, "normalized", True)
    kind = body.get("embedding_type") or "float"
    if kind not in EMBEDDING_TYPES:
        raise _literal(("embedding_type",), kind, EMBEDDING_TYPES)
    late = _bool(body, "late_chunking", False)
    _bool(body, "truncate", False)
    context = "\n".join(item.value for item in items) if late else ""
    data = []
    for index, item in enumerate(items):
        key = f"jina\0{model}\0{task}\0{context}\0{index if late else ''}\0{'image' if item.image else 'text'}\0"
        vector = unit_vector(key + item.value, dims)
        if not normalized:
            vector = [v * (1 + item.tokens) for v in vector]
        data.append({"object": "embedding", "index": index, "embedding": _embedding(vector, kind)})
    tokens = sum(item.tokens for item in items)
    return {
        "model": model,
        "object": "list",
        "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
        "data": data,
    }


# --- rerank -------------------------------------------------------------------------------------


def rerank(body: JSON) -> JSON:
    """Validate a rerank request and build Jina's reply."""
    model = _model(body, RERANK_MODELS)
    images = RERANK_MODELS.get(model, False)
    if "query" not in body:
        raise _missing(body, "query")
    query = _item(body["query"], ("query",), images, model)
    documents = _items(body, "documents", images, model)
    top_n = _positive_int(body, "top_n")
    return_documents = _bool(body, "return_documents", True)
    results = []
    for index, score in rerank_order(query.value, [d.value for d in documents])[:top_n]:
        result: JSON = {"index": index}
        if return_documents:
            document = documents[index]
            result["document"] = {"image" if document.image else "text": document.value}
        result["relevance_score"] = score
        results.append(result)
    texts = [d.value for d in documents if not d.image]
    tokens = rerank_tokens(query.value, texts) + IMAGE_TOKENS * (len(documents) - len(texts))
    return {"model": model, "usage": {"total_tokens": tokens}, "results": results}


# --- the server ---------------------------------------------------------------------------------


class FakeJina(RetrievalUpstream):
    """The fake Jina AI server; `with FakeJina() as fake:`, point clients at `fake.base_url`."""

    routes: ClassVar[frozenset[str]] = frozenset({"/v1/embeddings", "/v1/rerank"})
    server_name = "fake-jina"

    def __init__(self, api_key: str = "jina_fake_upstream_key") -> None:
        super().__init__(api_key)

    def authenticate(self, key: str | None) -> None:
        if key is None:
            raise _error(401, "Authentication required")
        if key != self.api_key:
            raise _error(401, "Invalid API key")

    def invalid_json(self, body: bytes) -> UpstreamError:
        try:
            json.loads(body)
        except ValueError as err:
            position = err.pos if isinstance(err, json.JSONDecodeError) else 0
            message = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
            return _invalid("json_invalid", (position,), "JSON decode error", {}, {"error": message})
        msg = "Input should be a valid dictionary or object to extract fields from"
        return _invalid("model_attributes_type", (), msg, json.loads(body))

    def fault_status(self, status: int, path: str) -> UpstreamError:
        messages = {
            400: "Failed to encode text",
            401: "Invalid API key",
            403: "Insufficient account balance",
            429: "Rate limit exceeded. Please retry after some time.",
            500: "Internal server error",
            503: "Service temporarily unavailable",
        }
        if status == 422:
            return _literal(("task",), "fault", V3_TASKS)
        return _error(status, messages.get(status, f"Injected fault: HTTP {status}."))

    def answer(self, path: str, body: JSON) -> JSON:
        return embeddings(body) if path == "/v1/embeddings" else rerank(body)
