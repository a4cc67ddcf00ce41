"""Proves `FakeLlamaCppRerank` faithful. There is no official Python SDK for llama-server's rerank route on PyPI
here, so it is driven with raw httpx and checked against the shapes `tools/server` builds (`handle_rerank`,
`format_response_rerank`, `format_error_response`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.llamacpp_upstream import FakeLlamaCppRerank
from tests.fakes.relevance import relevance
from tests.fakes.upstream_kit import logit

KEY = "llama-secret"
QUERY = "which city is the capital of France"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital city of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
]
ROUTES = ("/v1/rerank", "/rerank", "/v1/reranking", "/reranking")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLlamaCppRerank]:
    with FakeLlamaCppRerank(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeLlamaCppRerank) -> None:
    fake.clear()


def _post(fake: FakeLlamaCppRerank, body: Any, path: str = "/v1/rerank", **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
    content = body if isinstance(body, bytes) else None
    with httpx.Client(headers=headers) as http:
        if content is not None:
            return http.post(fake.base_url + path, content=content, **kwargs)
        return http.post(fake.base_url + path, json=body, **kwargs)


def _error(response: httpx.Response) -> tuple[int, Any]:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.status_code, response.json()


# --- public endpoints ---------------------------------------------------------------------------


def test_health_and_models_need_no_key(fake: FakeLlamaCppRerank) -> None:
    assert httpx.get(fake.base_url + "/health").json() == {"status": "ok"}
    for path in ("/v1/models", "/models"):
        listed = httpx.get(fake.base_url + path).json()
        assert listed["object"] == "list"
        (model,) = listed["data"]
        assert (model["id"], model["object"], model["owned_by"]) == ("bge-reranker-v2-m3", "model", "llamacpp")
        assert model["created"] > 0 and {"n_ctx_train", "n_embd", "n_vocab"} <= set(model["meta"])
        assert listed["models"][0]["name"] == "bge-reranker-v2-m3"


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_jina_shape_sorted_without_documents(fake: FakeLlamaCppRerank) -> None:
    response = _post(fake, {"model": "my-reranker", "query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["model", "object", "usage", "results"]
    assert (body["model"], body["object"]) == ("my-reranker", "list")
    assert body["usage"] == {"prompt_tokens": 50, "total_tokens": 50}
    scores = {i: logit(relevance(QUERY, d)) for i, d in enumerate(DOCUMENTS)}
    assert body["results"] == [{"index": i, "relevance_score": scores[i]} for i in (1, 0, 2, 3)]
    assert body["results"][-1]["relevance_score"] < 0  # the reranker head's raw logit, not a probability
    assert math.isclose(1 / (1 + math.exp(-scores[1])), relevance(QUERY, DOCUMENTS[1]), abs_tol=1e-4)
    assert fake.requests[-1].json() == {"model": "my-reranker", "query": QUERY, "documents": DOCUMENTS}


def test_every_rerank_route_is_the_same_handler(fake: FakeLlamaCppRerank) -> None:
    answers = [_post(fake, {"query": QUERY, "documents": DOCUMENTS}, path).json() for path in ROUTES]
    assert all(a == answers[0] for a in answers)
    assert answers[0]["model"] == "bge-reranker-v2-m3"  # no model in the request: the server's own name
    assert [r.path for r in fake.requests] == list(ROUTES)


def test_top_n(fake: FakeLlamaCppRerank) -> None:
    body = {"query": QUERY, "documents": DOCUMENTS}
    assert [r["index"] for r in _post(fake, body | {"top_n": 2}).json()["results"]] == [1, 0]
    assert _post(fake, body | {"top_n": 0}).json()["results"] == []
    assert len(_post(fake, body | {"top_n": 10}).json()["results"]) == 4
    assert len(_post(fake, body | {"top_n": None}).json()["results"]) == 4  # json_value: null is absent
    usage = _post(fake, body | {"top_n": 1}).json()["usage"]
    assert usage["prompt_tokens"] == 50  # every document was scored


def test_rerank_tei_shape_when_texts_are_sent(fake: FakeLlamaCppRerank) -> None:
    ranks = _post(fake, {"query": QUERY, "texts": DOCUMENTS, "return_text": True}).json()
    assert isinstance(ranks, list) and [r["index"] for r in ranks] == [1, 0, 2, 3]
    assert ranks[0] == {"index": 1, "score": logit(relevance(QUERY, DOCUMENTS[1])), "text": DOCUMENTS[1]}
    assert all("text" not in r for r in _post(fake, {"query": QUERY, "texts": DOCUMENTS}).json())


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"documents": DOCUMENTS}, '"query" must be provided'),
        ({"query": ["a"], "documents": DOCUMENTS}, '"query" must be a string'),
        ({"query": QUERY}, '"documents" must be a non-empty string array'),
        ({"query": QUERY, "documents": []}, '"documents" must be a non-empty string array'),
        ({"query": QUERY, "documents": [{"text": "x"}]}, '"documents" must be a non-empty string array'),
    ],
)
def test_invalid_requests(fake: FakeLlamaCppRerank, body: Any, message: str) -> None:
    assert _error(_post(fake, body)) == (400, {"error": {"code": 400, "message": message,
                                                         "type": "invalid_request_error"}})


def test_input_larger_than_the_physical_batch(fake: FakeLlamaCppRerank) -> None:
    long_document = " ".join(["word"] * 510)
    status, body = _error(_post(fake, {"query": QUERY, "documents": ["short", long_document]}))
    assert (status, body["error"]["type"]) == (500, "server_error")
    assert body["error"]["message"] == (
        "input (517 tokens) is too large to process. increase the physical batch size (current batch size: 512)"
    )


def test_unparsable_body_and_unknown_path(fake: FakeLlamaCppRerank) -> None:
    status, body = _error(_post(fake, b"{nope", headers={"content-type": "application/json"}))
    assert (status, body["error"]["code"], body["error"]["type"]) == (500, 500, "server_error")
    assert body["error"]["message"].startswith("[json.exception.parse_error.101] parse error at line 1, column 2")
    assert _error(_post(fake, {}, "/v1/nope")) == (
        404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
    )


def test_api_key(fake: FakeLlamaCppRerank) -> None:
    invalid = {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": KEY}):
        with httpx.Client(headers=headers) as http:
            response = http.post(fake.base_url + "/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS})
        assert _error(response) == (401, invalid)
    assert _post(fake, {"query": QUERY, "documents": DOCUMENTS}).status_code == 200
    with FakeLlamaCppRerank() as open_server:  # no key configured: nothing is checked
        response = httpx.post(open_server.base_url + "/rerank", json={"query": QUERY, "documents": DOCUMENTS})
        assert response.status_code == 200


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (404, "not_found_error"),
     (500, "server_error"), (501, "not_supported_error"), (503, "unavailable_error")],
)
def test_fault_status(fake: FakeLlamaCppRerank, status: int, kind: str) -> None:
    code, body = _error(_post(fake, {"model": f"fault-status-{status}", "query": QUERY, "documents": DOCUMENTS}))
    assert code == status and body["error"]["code"] == status and body["error"]["type"] == kind
    assert set(body["error"]) == {"code", "message", "type"}


def test_server_wide_fault_and_garbage(fake: FakeLlamaCppRerank) -> None:
    fake.fault = "fault-status-503"
    assert _post(fake, {"query": QUERY, "documents": DOCUMENTS}).json()["error"]["message"] == "Loading model"
    fake.fault = "fault-garbage"
    garbage = _post(fake, {"query": QUERY, "documents": DOCUMENTS})
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("text/html")


def test_fault_stall(fake: FakeLlamaCppRerank) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _post(fake, {"model": "fault-stall-5", "query": QUERY, "documents": DOCUMENTS}, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)
    quick = _post(fake, {"model": "fault-stall-0.1", "query": QUERY, "documents": DOCUMENTS})
    assert quick.json()["model"] == "fault-stall-0.1" and quick.json()["results"][0]["index"] == 1


# --- harness ------------------------------------------------------------------------------------


def test_lifecycle_and_options() -> None:
    server = FakeLlamaCppRerank(model_name="jina-reranker-v2.gguf", n_ubatch=8)
    with server as started:
        assert started is server and server.base_url == f"http://127.0.0.1:{server.port}"
        response = httpx.post(server.base_url + "/rerank", json={"query": QUERY, "documents": DOCUMENTS})
        assert response.status_code == 500  # query + document exceed a physical batch of 8
        ok = httpx.post(server.base_url + "/rerank", json={"query": "cat", "documents": ["a cat"]})
        assert ok.json()["model"] == "jina-reranker-v2.gguf"
        assert len(server.requests) == 2
        server.clear()
        assert server.requests == [] and server.disconnects == 0
        port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")
