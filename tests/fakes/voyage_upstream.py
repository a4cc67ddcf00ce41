"""A faithful fake of the Voyage AI REST API (api.voyageai.com) for tests: `FakeVoyage`.

Routes (all `POST`, behind `Authorization: Bearer <key>`), served by `RetrievalUpstream` (see `retrieval_upstream`):

* `/v1/embeddings`: `{input: str | [str], model, input_type: null|"query"|"document", truncation: bool = true,
  output_dimension, output_dtype: null|"float"|"int8"|"uint8"|"binary"|"ubinary", encoding_format: null|"base64"}`
  -> `{object: "list", data: [{object: "embedding", embedding, index}], model, usage: {total_tokens}}`.
  `embedding` is floats, or ints for the quantised dtypes (binary/ubinary: `dimension // 8` bit-packed bytes), or
  with `encoding_format: "base64"` the base64 of the little-endian float32 / int8 / uint8 bytes (what the official
  SDK requests by default and decodes with numpy).
* `/v1/rerank`: `{query, documents: [str], model, top_k, return_documents: bool = false, truncation: bool = true}`
  -> `{object: "list", data: [{relevance_score, index, document?}], model, usage: {total_tokens}}`, best first.

Errors are Voyage's `{"detail": "<message>"}` with 400 for every validation problem (unknown model, bad argument
value, empty input, batch too big, over-long text with `truncation: false`), 401 for a missing or wrong key, and
FastAPI's `{"detail": "Not Found"}` / `{"detail": "Method Not Allowed"}` for other paths and methods.

Replies are deterministic: a vector is a hash of (model, input_type, text) (see `retrieval_upstream.unit_vector`),
tokens are words (at least one per text; capped at the model's context length when truncating), rerank scores are
`relevance.relevance`, and rerank usage is query tokens x documents + document tokens. Faults are chosen by `model`
(`fault-status-<code>`, `fault-stall-<seconds>`, `fault-garbage`); every request is recorded in `requests`.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, cast

from tests.fakes.retrieval_upstream import (
    JSON,
    Quantized,
    RetrievalUpstream,
    UpstreamError,
    float32_base64,
    integers_base64,
    quantize,
    rerank_order,
    rerank_tokens,
    text_tokens,
    unit_vector,
)
from tests.fakes.upstream_kit import parse_fault

__all__ = ["EMBEDDING_MODELS", "RERANK_MODELS", "FakeVoyage"]

MAX_BATCH = 1000
MAX_DOCUMENTS = 1000
_DTYPES = ("float", "int8", "uint8", "binary", "ubinary")
_FLEXIBLE = (256, 512, 1024, 2048)


class Embedder(NamedTuple):
    """What a Voyage embedding model accepts: default and allowed dimensions, dtypes, token limits."""

    default: int
    dimensions: tuple[int, ...]
    dtypes: tuple[str, ...]
    context: int
    batch_tokens: int


def _flexible(batch_tokens: int = 120_000) -> Embedder:
    return Embedder(1024, _FLEXIBLE, _DTYPES, 32_000, batch_tokens)


def _fixed(dims: int, context: int, batch_tokens: int = 120_000) -> Embedder:
    return Embedder(dims, (dims,), ("float",), context, batch_tokens)


EMBEDDING_MODELS: dict[str, Embedder] = {
    "voyage-4-large": _flexible(),
    "voyage-4": _flexible(320_000),
    "voyage-4-lite": _flexible(1_000_000),
    "voyage-3.5": _flexible(320_000),
    "voyage-3.5-lite": _flexible(1_000_000),
    "voyage-3-large": _flexible(),
    "voyage-code-3": _flexible(),
    "voyage-3": _fixed(1024, 32_000),
    "voyage-3-lite": _fixed(512, 32_000),
    "voyage-finance-2": _fixed(1024, 32_000),
    "voyage-law-2": _fixed(1024, 16_000),
    "voyage-code-2": _fixed(1536, 16_000),
    "voyage-multilingual-2": _fixed(1024, 32_000),
    "voyage-large-2": _fixed(1536, 16_000),
    "voyage-2": _fixed(1024, 4_000, 320_000),
}
RERANK_MODELS: dict[str, int] = {  # context length (query + one document)
    "rerank-2.5": 32_000,
    "rerank-2.5-lite": 32_000,
    "rerank-2": 16_000,
    "rerank-2-lite": 8_000,
    "rerank-1": 8_000,
    "rerank-lite-1": 4_000,
}
_FAULT_EMBEDDER = EMBEDDING_MODELS["voyage-3.5"]

INVALID_KEY = "Provided API key is invalid."
EMPTY_INPUT = "Input cannot contain empty strings or empty lists."
RATE_LIMITED = (
    "You have not yet added your payment method in the billing page and will have reduced rate limits of 3 RPM "
    "and 10K TPM.  Please add your payment method in the billing page "
    "(https://dash.voyageai.com/billing/payment-methods) to unlock our standard rate limits "
    "(https://docs.voyageai.com/docs/rate-limits).  Even with payment methods entered, the free tokens (200M "
    "tokens for Voyage series 3) will still apply. See our pricing docs (https://docs.voyageai.com/docs/pricing) "
    "for the free tokens for your model."
)


def _error(status: int, detail: str, **extra: Any) -> UpstreamError:
    return UpstreamError(status, {"detail": detail, **extra})


def _bad_value(name: str, value: Any, accepted: str) -> UpstreamError:
    return _error(400, f"Value '{value}' supplied for argument '{name}' is not valid -- {accepted}")


def _required(name: str) -> UpstreamError:
    return _error(400, f"Field '{name}' is required.")


def _unsupported_model(model: str, known: list[str]) -> UpstreamError:
    return _error(400, f"Model {model} is not supported. Supported models are {known}.")


def _optional_bool(body: JSON, name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad_value(name, value, "accepted values are True or False")
    return value


def _optional_positive_int(body: JSON, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad_value(name, value, "accepted values are None or a positive integer")
    return value


def _model(body: JSON, models: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise _required("model")
    if not isinstance(model, str) or (model not in models and parse_fault(model) is None):
        raise _unsupported_model(str(model), list(models))
    return model


# --- embeddings ---------------------------------------------------------------------------------


def _texts(body: JSON) -> list[str]:
    value = body.get("input")
    if value is None:
        raise _required("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _bad_value("input", value, "accepted values are a string or a list of strings")
    if not texts or not all(texts):
        raise _error(400, EMPTY_INPUT)
    if len(texts) > MAX_BATCH:
        raise _error(400, f"The batch size limit is {MAX_BATCH}. Your batch size is {len(texts)}.")
    return texts


def _choice(body: JSON, name: str, accepted: tuple[str | int | None, ...], what: str) -> Any:
    value = body.get(name)
    if value not in accepted:
        raise _bad_value(name, value, what)
    return value


def _tokens(model: str, spec: Embedder, texts: list[str], truncation: bool) -> int:
    counts = [text_tokens(text) for text in texts]
    if not truncation:
        for index, count in enumerate(counts):
            if count > spec.context:
                raise _error(
                    400,
                    f"Request to model '{model}' failed. The example at index {index} in your batch has too many "
                    f"tokens and does not fit into the model's context window of {spec.context} tokens. Please "
                    "lower the number of tokens in the listed example(s) or use truncation.",
                )
    total = sum(min(count, spec.context) for count in counts)
    if total > spec.batch_tokens:
        raise _error(
            400,
            f"Request to model '{model}' failed. The max allowed tokens per submitted batch is {spec.batch_tokens}. "
            f"Your batch has {total} tokens after truncation. Please lower the number of tokens in the batch.",
            error_code="TOO_MANY_TOKENS_IN_BATCH",
        )
    return total


def _encode(vector: list[float], dtype: str, base64: bool) -> Any:
    if dtype == "float":
        return float32_base64(vector) if base64 else vector
    values = quantize(vector, cast(Quantized, dtype))
    return integers_base64(values, signed=dtype in ("int8", "binary")) if base64 else values


def embeddings(body: JSON) -> JSON:
    """Validate an embeddings request and build Voyage's reply."""
    model = _model(body, EMBEDDING_MODELS)
    spec = EMBEDDING_MODELS.get(model, _FAULT_EMBEDDER)
    texts = _texts(body)
    input_type = _choice(body, "input_type", (None, "query", "document"), "accepted values are 'query' or 'document'")
    truncation = _optional_bool(body, "truncation", True)
    dims_accepted = f"accepted values for '{model}' are {list(spec.dimensions)}."
    dims = _choice(body, "output_dimension", (None, *spec.dimensions), dims_accepted) or spec.default
    dtypes_accepted = f"accepted values for '{model}' are {list(spec.dtypes)}."
    dtype = _choice(body, "output_dtype", (None, *spec.dtypes), dtypes_accepted)
    base64 = _choice(body, "encoding_format", (None, "base64"), "accepted values are None or 'base64'") == "base64"
    tokens = _tokens(model, spec, texts, truncation)
    data = []
    for index, text in enumerate(texts):
        vector = unit_vector(f"voyage\0{model}\0{input_type or ''}\0{text}", dims)
        data.append({"object": "embedding", "embedding": _encode(vector, dtype or "float", base64), "index": index})
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": tokens}}


# --- rerank -------------------------------------------------------------------------------------


def rerank(body: JSON) -> JSON:
    """Validate a rerank request and build Voyage's reply."""
    query, documents = body.get("query"), body.get("documents")
    if query is None:
        raise _required("query")
    if documents is None:
        raise _required("documents")
    model = _model(body, RERANK_MODELS)
    if not isinstance(query, str) or not query:
        raise _bad_value("query", query, "accepted values are a non-empty string")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise _bad_value("documents", documents, "accepted values are a list of strings")
    if not documents or not all(documents):
        raise _error(400, "Documents cannot contain empty strings or be an empty list.")
    if len(documents) > MAX_DOCUMENTS:
        raise _error(400, f"The number of documents cannot exceed {MAX_DOCUMENTS}. Got {len(documents)}.")
    top_k = _optional_positive_int(body, "top_k")
    return_documents = _optional_bool(body, "return_documents", False)
    _optional_bool(body, "truncation", True)
    data = []
    for index, score in rerank_order(query, documents)[:top_k]:
        item: JSON = {"relevance_score": score, "index": index}
        if return_documents:
            item["document"] = documents[index]
        data.append(item)
    usage = {"total_tokens": rerank_tokens(query, documents)}
    return {"object": "list", "data": data, "model": model, "usage": usage}


# --- the server ---------------------------------------------------------------------------------


class FakeVoyage(RetrievalUpstream):
    """The fake Voyage AI server; `with FakeVoyage() as fake:`, point clients at `fake.base_url`."""

    routes: ClassVar[frozenset[str]] = frozenset({"/v1/embeddings", "/v1/rerank"})
    server_name = "fake-voyage"

    def __init__(self, api_key: str = "pa-fake-voyage-key") -> None:
        super().__init__(api_key)

    def authenticate(self, key: str | None) -> None:
        if key != self.api_key:
            raise _error(401, INVALID_KEY)

    def invalid_json(self, body: bytes) -> UpstreamError:
        return _error(400, "The request body is not a valid JSON.")

    def fault_status(self, status: int, path: str) -> UpstreamError:
        if status == 400:
            return _error(400, EMPTY_INPUT)
        if status == 401:
            return _error(401, INVALID_KEY)
        if status == 403:
            return _error(403, "Forbidden: requests from your IP address are not allowed.")
        if status == 429:
            return _error(429, RATE_LIMITED)
        if status == 500:
            return _error(500, "Internal Server Error")
        if status in (502, 503, 504):
            return _error(status, "The server is currently overloaded. Please retry after a brief wait.")
        return _error(status, f"Injected fault: HTTP {status}.")

    def answer(self, path: str, body: JSON) -> JSON:
        return embeddings(body) if path == "/v1/embeddings" else rerank(body)
