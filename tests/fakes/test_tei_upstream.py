"""Proves `FakeTEI` faithful. There is no official Python SDK for TEI's own routes on PyPI here, so `/info`,
`/rerank` and `/embed` are driven with raw httpx against the shapes of TEI's OpenAPI document and router, and the
OpenAI-compatible `/v1/embeddings` with the official `openai` SDK."""

from __future__ import annotations

import array
import base64
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types import CreateEmbeddingResponse

from tests.fakes.openai_wire import embedding_vector
from tests.fakes.relevance import relevance
from tests.fakes.tei_upstream import FakeTEI
from tests.fakes.upstream_kit import logit

KEY = "tei-secret"
AUTH = {"authorization": f"Bearer {KEY}"}
QUERY = "which city is the capital of France"
TEXTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital city of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
]


@pytest.fixture(scope="module")
def reranker() -> Iterator[FakeTEI]:
    with FakeTEI(api_key=KEY, model_type="reranker") as server:
        yield server


@pytest.fixture(scope="module")
def embedder() -> Iterator[FakeTEI]:
    with FakeTEI(model_type="embedding", max_client_batch_size=4, max_input_length=16) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(reranker: FakeTEI, embedder: FakeTEI) -> None:
    reranker.clear()
    embedder.clear()


@pytest.fixture
def sdk(embedder: FakeTEI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=embedder.base_url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def _post(fake: FakeTEI, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers = AUTH if fake.api_key else {}
    with httpx.Client(headers=headers) as http:
        return http.post(fake.base_url + path, json=body, **kwargs)


# --- info and health ----------------------------------------------------------------------------


def test_info(reranker: FakeTEI, embedder: FakeTEI) -> None:
    info = httpx.get(reranker.base_url + "/info", headers=AUTH).json()
    assert info["model_id"] == "BAAI/bge-reranker-v2-m3"
    assert info["model_type"] == {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
    assert (info["max_input_length"], info["max_client_batch_size"], info["auto_truncate"]) == (512, 32, False)
    assert {"model_sha", "model_dtype", "max_concurrent_requests", "max_batch_tokens", "max_batch_requests",
            "tokenization_workers", "version", "sha", "docker_label"} <= set(info)
    other = httpx.get(embedder.base_url + "/info").json()
    assert (other["model_id"], other["model_type"]) == ("BAAI/bge-m3", {"embedding": {"pooling": "cls"}})


def test_health_is_public_and_empty(reranker: FakeTEI) -> None:
    for path in ("/health", "/", "/ping"):
        response = httpx.get(reranker.base_url + path)
        assert (response.status_code, response.content) == (200, b"")


def test_api_key_is_an_exact_header_match(reranker: FakeTEI) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"bearer {KEY}"}):
        for method, path in (("GET", "/info"), ("POST", "/rerank"), ("POST", "/v1/embeddings")):
            response = httpx.request(method, reranker.base_url + path, headers=headers, json={})
            assert (response.status_code, response.content) == (401, b"")
    assert httpx.get(reranker.base_url + "/info", headers=AUTH).status_code == 200


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_sorted_by_score(reranker: FakeTEI) -> None:
    response = _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    ranks = response.json()
    scores = [relevance(QUERY, t) for t in TEXTS]
    assert ranks == [{"index": i, "score": scores[i]} for i in sorted(range(4), key=lambda i: -scores[i])]
    assert [r["index"] for r in ranks] == [1, 0, 2, 3]
    assert all(0.0 <= r["score"] <= 1.0 for r in ranks)
    assert response.headers["x-compute-tokens"] == "50"
    assert response.headers["x-compute-characters"] == str(sum(len(QUERY) + len(t) for t in TEXTS))
    assert reranker.requests[-1].json() == {"query": QUERY, "texts": TEXTS}


def test_rerank_return_text_and_raw_scores(reranker: FakeTEI) -> None:
    ranks = _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS, "return_text": True, "raw_scores": True})
    results = ranks.json()
    assert [list(r) for r in results] == [["index", "text", "score"]] * 4
    assert [r["text"] for r in results] == [TEXTS[r["index"]] for r in results]
    assert [r["score"] for r in results] == [logit(relevance(QUERY, TEXTS[r["index"]])) for r in results]
    assert results[-1]["score"] < 0 < results[0]["score"]  # logits, not probabilities
    assert all(math.isclose(1 / (1 + math.exp(-r["score"])), relevance(QUERY, r["text"]), abs_tol=1e-4)
               for r in results)
    root = _post(reranker, "/", {"query": QUERY, "texts": TEXTS})  # `POST /` serves the model's own task
    assert root.json() == _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS}).json()


def test_rerank_errors(reranker: FakeTEI, embedder: FakeTEI) -> None:
    empty = _post(reranker, "/rerank", {"query": QUERY, "texts": []})
    assert (empty.status_code, empty.json()) == (400, {"error": "`texts` cannot be empty", "error_type": "Empty"})
    batch = _post(reranker, "/rerank", {"query": QUERY, "texts": ["x"] * 33})
    assert (batch.status_code, batch.json()) == (
        413, {"error": "batch size 33 > maximum allowed batch size 32", "error_type": "Validation"}
    )
    long_text = " ".join(["word"] * 600)
    too_long = _post(reranker, "/rerank", {"query": QUERY, "texts": [long_text]})
    assert (too_long.status_code, too_long.json()) == (413, {
        "error": "Input validation error: `inputs` must have less than 512 tokens. Given: 607",
        "error_type": "Validation",
    })
    truncated = _post(reranker, "/rerank", {"query": QUERY, "texts": [long_text], "truncate": True})
    assert truncated.status_code == 200 and truncated.headers["x-compute-tokens"] == "512"
    wrong_model = _post(embedder, "/rerank", {"query": QUERY, "texts": TEXTS})
    assert (wrong_model.status_code, wrong_model.json()) == (
        424, {"error": "Backend error: model is not a re-ranker model", "error_type": "Backend"}
    )


def test_bodies_axum_cannot_read_are_plain_text(reranker: FakeTEI) -> None:
    with httpx.Client(headers=AUTH) as http:
        no_type = http.post(reranker.base_url + "/rerank", content=b'{"query": "q", "texts": ["t"]}')
        broken = http.post(reranker.base_url + "/rerank", content=b"{nope",
                           headers={"content-type": "application/json"})
    assert (no_type.status_code, no_type.text) == (415, "Expected request with `Content-Type: application/json`")
    assert broken.status_code == 400 and broken.headers["content-type"].startswith("text/plain")
    assert broken.text.startswith("Failed to parse the request body as JSON: ")
    missing = _post(reranker, "/rerank", {"texts": TEXTS})
    assert missing.status_code == 422 and missing.headers["content-type"].startswith("text/plain")
    assert missing.text.startswith("Failed to deserialize the JSON body into the target type: missing field `query`")
    typed = _post(reranker, "/rerank", {"query": 7, "texts": TEXTS})
    assert typed.status_code == 422 and "invalid type: integer `7`, expected a string" in typed.text


def test_unknown_routes_and_methods_have_empty_bodies(reranker: FakeTEI) -> None:
    unknown = _post(reranker, "/nope", {})
    assert (unknown.status_code, unknown.content) == (404, b"")
    wrong = httpx.get(reranker.base_url + "/rerank", headers=AUTH)
    assert (wrong.status_code, wrong.content, wrong.headers["allow"]) == (405, b"", "POST")


# --- embed --------------------------------------------------------------------------------------


def test_embed_vectors(embedder: FakeTEI) -> None:
    single = _post(embedder, "/embed", {"inputs": "hello world"})
    assert single.json() == [embedding_vector(b"s:hello world", 8)]
    batch = _post(embedder, "/embed", {"inputs": ["hello world", "second one", [101, 7592, 102]]}).json()
    assert len(batch) == 3 and batch[0] == single.json()[0]
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-6) for v in batch)
    raw = _post(embedder, "/embed", {"inputs": ["hello world"], "normalize": False}).json()
    assert math.isclose(math.hypot(*raw[0]), 3.0, rel_tol=1e-6)  # not re-normalised
    assert embedder.requests[-1].json() == {"inputs": ["hello world"], "normalize": False}


def test_embed_errors(embedder: FakeTEI, reranker: FakeTEI) -> None:
    empty = _post(embedder, "/embed", {"inputs": []})
    assert (empty.status_code, empty.json()) == (400, {"error": "`inputs` cannot be empty", "error_type": "Empty"})
    assert _post(embedder, "/embed", {"inputs": ["a"] * 5}).json()["error_type"] == "Validation"
    too_long = _post(embedder, "/embed", {"inputs": " ".join(["w"] * 20)})
    assert too_long.json()["error"] == "Input validation error: `inputs` must have less than 16 tokens. Given: 20"
    assert _post(embedder, "/embed", {"inputs": " ".join(["w"] * 20), "truncate": True}).status_code == 200
    wrong_model = _post(reranker, "/embed", {"inputs": "x"})
    assert (wrong_model.status_code, wrong_model.json()) == (
        424, {"error": "Backend error: Model is not an embedding model", "error_type": "Backend"}
    )
    shape = _post(embedder, "/embed", {"inputs": 5})
    assert shape.status_code == 422 and "did not match any variant of untagged enum Input" in shape.text


# --- OpenAI-compatible embeddings ---------------------------------------------------------------


def test_openai_embeddings_with_the_sdk(sdk: openai.OpenAI, embedder: FakeTEI) -> None:
    raw = sdk.embeddings.with_raw_response.create(model="anything", input=["hello world", "bye"],
                                                  encoding_format="float")
    CreateEmbeddingResponse.model_validate(raw.http_response.json(), strict=True)
    floats = raw.parse()
    assert floats.model == "BAAI/bge-m3"  # TEI names its own model, whatever was asked
    assert [d.index for d in floats.data] == [0, 1]
    assert floats.data[0].embedding == embedding_vector(b"s:hello world", 8)
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (3, 3)
    decoded = sdk.embeddings.create(model="anything", input=["hello world", "bye"])  # base64 on the wire
    assert embedder.requests[-1].json()["encoding_format"] == "base64"
    assert [d.embedding for d in decoded.data] == [d.embedding for d in floats.data]
    explicit: Any = sdk.embeddings.create(model="anything", input="hello world", encoding_format="base64")
    packed = explicit.data[0].embedding
    assert array.array("f", base64.b64decode(packed)).tolist() == floats.data[0].embedding


def test_openai_embeddings_errors_are_tei_errors_in_openai_shape(sdk: openai.OpenAI, reranker: FakeTEI) -> None:
    with pytest.raises(openai.BadRequestError) as empty:
        sdk.embeddings.create(model="m", input=[])
    assert empty.value.body == {"message": "`inputs` cannot be empty", "code": 400, "type": "Empty"}
    with pytest.raises(openai.APIStatusError) as batch:
        sdk.embeddings.create(model="m", input=["a"] * 5)
    assert batch.value.status_code == 413
    assert batch.value.body == {"message": "batch size 5 > maximum allowed batch size 4", "code": 413,
                                "type": "Validation"}
    with openai.OpenAI(base_url=reranker.base_url + "/v1", api_key=KEY, max_retries=0) as client, \
            pytest.raises(openai.APIStatusError) as wrong:
        client.embeddings.create(model="m", input="x")
    assert wrong.value.status_code == 424
    assert wrong.value.body == {"message": "Backend error: Model is not an embedding model", "code": 424,
                                "type": "Backend"}


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "Empty"), (413, "Validation"), (422, "Tokenizer"), (424, "Backend"), (429, "Overloaded"),
     (503, "Unhealthy")],
)
def test_server_wide_fault_status(reranker: FakeTEI, status: int, error_type: str) -> None:
    reranker.fault = f"fault-status-{status}"
    response = _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS})
    assert response.status_code == status
    assert set(response.json()) == {"error", "error_type"} and response.json()["error_type"] == error_type
    reranker.clear()
    assert reranker.fault is None and _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS}).status_code == 200


def test_fault_from_the_model_field(sdk: openai.OpenAI, embedder: FakeTEI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.embeddings.create(model="fault-status-429", input="x")
    assert limited.value.body == {"message": "Model is overloaded", "code": 429, "type": "Overloaded"}
    other = _post(embedder, "/embed", {"inputs": "x", "model": "fault-status-502"})
    assert (other.status_code, other.content) == (502, b"")
    garbage = _post(embedder, "/embed", {"inputs": "x", "model": "fault-garbage"})
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("text/html")


def test_fault_stall(reranker: FakeTEI) -> None:
    reranker.fault = "fault-stall-5"
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS}, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert reranker.wait_for_disconnect(timeout=5.0)
    reranker.fault = "fault-stall-0.1"
    assert _post(reranker, "/rerank", {"query": QUERY, "texts": TEXTS}).json()[0]["index"] == 1


# --- harness ------------------------------------------------------------------------------------


def test_lifecycle_and_options() -> None:
    server = FakeTEI(model_type="reranker", model_id="my/reranker", auto_truncate=True, max_input_length=4)
    with server as started:
        assert started is server and server.base_url == f"http://127.0.0.1:{server.port}"
        info = httpx.get(server.base_url + "/info").json()
        assert (info["model_id"], info["auto_truncate"]) == ("my/reranker", True)
        assert _post(server, "/rerank", {"query": QUERY, "texts": TEXTS}).status_code == 200  # auto-truncated
        assert len(server.requests) == 2
        server.clear()
        assert server.requests == []
        port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")
    with pytest.raises(ValueError, match="model_type"):
        FakeTEI(model_type="classifier")  # type: ignore[arg-type]
