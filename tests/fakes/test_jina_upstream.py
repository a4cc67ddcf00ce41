"""Proves `FakeJina` faithful. Jina has no maintained official Python SDK for these APIs; its embeddings API is
OpenAI-compatible, so `/v1/embeddings` is driven with the official `openai` SDK (sync and async, `task` and the
other Jina fields through `extra_body`), and `/v1/rerank` and the error shapes with raw httpx."""

from __future__ import annotations

import array
import base64
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio
from openai.types import CreateEmbeddingResponse

from tests.fakes.jina_upstream import IMAGE_TOKENS, FakeJina

MODEL = "jina-embeddings-v3"
RERANKER = "jina-reranker-v2-base-multilingual"
TEXTS = ["hello world", "the second text here", "hello world"]
QUERY = "which city is the capital of France"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital city of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
]
RID = r"\[RID: [0-9a-f]{32}\] "


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeJina]:
    with FakeJina() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeJina) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeJina) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeJina) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


def _post(fake: FakeJina, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or fake.api_key}"}
    with httpx.Client() as http:
        return http.post(fake.base_url + path, json=body, headers=headers)


def _embed(fake: FakeJina, **body: Any) -> list[Any]:
    response = _post(fake, "/embeddings", {"model": MODEL, **body})
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-7) for x, y in zip(a, b, strict=True))


# --- embeddings through the OpenAI SDK ----------------------------------------------------------


def test_embeddings_with_openai_sdk(client: openai.OpenAI, fake: FakeJina) -> None:
    raw = client.embeddings.with_raw_response.create(model=MODEL, input=TEXTS, extra_body={"task": "retrieval.passage"})
    assert raw.headers["content-type"] == "application/json"
    body = raw.http_response.json()
    assert list(body) == ["model", "object", "usage", "data"]
    CreateEmbeddingResponse.model_validate(body, strict=True)
    result = raw.parse()
    assert (result.model, result.object) == (MODEL, "list")
    assert [(d.object, d.index, len(d.embedding)) for d in result.data] == [("embedding", i, 1024) for i in range(3)]
    assert result.data[0].embedding == result.data[2].embedding != result.data[1].embedding
    assert math.isclose(math.hypot(*result.data[1].embedding), 1.0, rel_tol=1e-5)
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (8, 8)
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/embeddings")
    assert recorded.headers["authorization"] == f"Bearer {fake.api_key}"
    # The SDK asks for base64 by default; Jina ignores the unknown field and answers floats, which the SDK keeps.
    assert recorded.json() == {"model": MODEL, "input": TEXTS, "encoding_format": "base64", "task": "retrieval.passage"}


def test_tasks_dimensions_and_float_format(client: openai.OpenAI) -> None:
    def vector(**options: Any) -> list[float]:
        return client.embeddings.create(model=MODEL, input="hello world", **options).data[0].embedding

    query, passage = vector(extra_body={"task": "retrieval.query"}), vector(extra_body={"task": "retrieval.passage"})
    plain = vector()
    assert len({tuple(query), tuple(passage), tuple(plain)}) == 3
    assert vector(encoding_format="float", extra_body={"task": "retrieval.query"}) == query
    short = vector(dimensions=64, extra_body={"task": "retrieval.query"})
    assert len(short) == 64 and math.isclose(math.hypot(*short), 1.0, rel_tol=1e-5)
    scale = math.hypot(*query[:64])
    assert _close(short, [v / scale for v in query[:64]])
    v4 = client.embeddings.create(model="jina-embeddings-v4", input="x", extra_body={"task": "code.query"})
    assert len(v4.data[0].embedding) == 2048
    assert len(client.embeddings.create(model="jina-embeddings-v2-base-en", input="x").data[0].embedding) == 768


async def test_async_openai_sdk(aclient: openai.AsyncOpenAI, fake: FakeJina) -> None:
    result = await aclient.embeddings.create(
        model=MODEL, input=["a b", "c"], dimensions=32, extra_body={"task": "text-matching", "late_chunking": True}
    )
    assert [len(d.embedding) for d in result.data] == [32, 32] and result.usage.total_tokens == 3
    with pytest.raises(openai.UnprocessableEntityError):
        await aclient.embeddings.create(model=MODEL, input="x", extra_body={"task": "retrieval"})
    assert [r.json()["model"] for r in fake.requests] == [MODEL, MODEL]


# --- the other embedding options (raw) ----------------------------------------------------------


def test_embedding_types_and_normalized(fake: FakeJina) -> None:
    (floats,) = _embed(fake, input=["hello world"], dimensions=256)
    (encoded,) = _embed(fake, input=["hello world"], dimensions=256, embedding_type="base64")
    assert isinstance(encoded, str) and array.array("f", base64.b64decode(encoded)).tolist() == floats
    (binary,) = _embed(fake, input=["hello world"], dimensions=256, embedding_type="binary")
    (ubinary,) = _embed(fake, input=["hello world"], dimensions=256, embedding_type="ubinary")
    assert len(binary) == len(ubinary) == 32 and binary == [v - 128 for v in ubinary]
    assert ubinary[0] == sum(1 << (7 - bit) for bit in range(8) if floats[bit] > 0)
    (raw,) = _embed(fake, input=["hello world"], dimensions=256, normalized=False)
    assert math.isclose(math.hypot(*raw), 1 + 2, rel_tol=1e-5)
    assert _close([v / 3 for v in raw], floats)


def test_late_chunking_and_images(fake: FakeJina) -> None:
    chunks = ["Berlin is the capital.", "Its population is 3.85 million."]
    alone = _embed(fake, input=chunks)
    late = _embed(fake, input=chunks, late_chunking=True)
    assert len(late) == 2 and late[0] != late[1] and late[0] != alone[0] and late[1] != alone[1]
    assert _embed(fake, input=chunks, late_chunking=True) == late
    image = {"image": "https://example.com/cat.png"}
    response = _post(fake, "/embeddings", {"model": "jina-clip-v2", "input": [{"text": "a cat"}, image]})
    body = response.json()
    assert [len(d["embedding"]) for d in body["data"]] == [1024, 1024]
    assert body["usage"] == {"total_tokens": 2 + IMAGE_TOKENS, "prompt_tokens": 2 + IMAGE_TOKENS}
    refused = _post(fake, "/embeddings", {"model": MODEL, "input": [image]})
    assert refused.status_code == 400
    assert re.fullmatch(RID + "Model 'jina-embeddings-v3' does not support image input", refused.json()["detail"])


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_shape_and_order(fake: FakeJina) -> None:
    response = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["model", "usage", "results"]
    assert (body["model"], body["usage"]) == (RERANKER, {"total_tokens": 7 * 4 + (6 + 7 + 6 + 3)})
    results = body["results"]
    assert [r["index"] for r in results] == [1, 0, 2, 3]
    assert all(list(r) == ["index", "document", "relevance_score"] for r in results)
    assert all(r["document"] == {"text": DOCUMENTS[r["index"]]} for r in results)
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert fake.requests[-1].path == "/v1/rerank"


def test_rerank_top_n_return_documents_and_objects(fake: FakeJina) -> None:
    full = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS}).json()["results"]
    top = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS, "top_n": 2}).json()
    assert top["results"] == full[:2]
    bare = {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS, "return_documents": False}
    assert _post(fake, "/rerank", bare).json()["results"] == [
        {"index": r["index"], "relevance_score": r["relevance_score"]} for r in full
    ]
    objects = [{"text": d, "source": "wiki"} for d in DOCUMENTS]
    as_objects = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": objects}).json()
    assert as_objects["results"] == full
    image = {"image": "https://example.com/paris.png"}
    m0 = _post(fake, "/rerank", {"model": "jina-reranker-m0", "query": QUERY, "documents": [image, DOCUMENTS[1]]})
    assert [r["document"] for r in m0.json()["results"]] == [{"text": DOCUMENTS[1]}, image]


def test_rerank_validation(fake: FakeJina) -> None:
    missing = _post(fake, "/rerank", {"model": RERANKER, "documents": DOCUMENTS})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [
            {
                "type": "missing",
                "loc": ["body", "query"],
                "msg": "Field required",
                "input": {"model": RERANKER, "documents": DOCUMENTS},
            }
        ]
    }
    bad_top_n = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": DOCUMENTS, "top_n": 0})
    assert bad_top_n.status_code == 422
    assert bad_top_n.json()["detail"][0] | {"input": None} == {
        "type": "greater_than_equal",
        "loc": ["body", "top_n"],
        "msg": "Input should be greater than or equal to 1",
        "input": None,
        "ctx": {"ge": 1},
    }
    empty = _post(fake, "/rerank", {"model": RERANKER, "query": QUERY, "documents": []})
    assert (empty.status_code, empty.json()["detail"][0]["type"]) == (422, "too_short")
    unknown = _post(fake, "/rerank", {"model": MODEL, "query": QUERY, "documents": DOCUMENTS})
    assert unknown.status_code == 400
    assert re.fullmatch(RID + "Model 'jina-embeddings-v3' not found", unknown.json()["detail"])


# --- errors and faults --------------------------------------------------------------------------


def test_wrong_and_missing_api_key(fake: FakeJina) -> None:
    wrong = openai.OpenAI(base_url=fake.base_url, api_key="jina_wrong", max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError) as caught:
        wrong.embeddings.create(model=MODEL, input="x")
    assert caught.value.status_code == 401 and isinstance(caught.value.body, dict)
    assert re.fullmatch(RID + "Invalid API key", caught.value.body["detail"])
    assert fake.requests[-1].headers["authorization"] == "Bearer jina_wrong"
    with httpx.Client() as http:
        missing = http.post(fake.base_url + "/rerank", json={"model": RERANKER, "query": "q", "documents": ["d"]})
    assert missing.status_code == 401
    assert re.fullmatch(RID + "Authentication required", missing.json()["detail"])


def test_validation_errors_are_fastapi_422(client: openai.OpenAI, fake: FakeJina) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.embeddings.create(model=MODEL, input="x", extra_body={"task": "retrieval"})
    expected = "'retrieval.query', 'retrieval.passage', 'separation', 'classification' or 'text-matching'"
    assert caught.value.body == {
        "detail": [
            {
                "type": "literal_error",
                "loc": ["body", "task"],
                "msg": f"Input should be {expected}",
                "input": "retrieval",
                "ctx": {"expected": expected},
            }
        ]
    }
    bad_type = _post(fake, "/embeddings", {"model": MODEL, "input": "x", "embedding_type": "int8"})
    assert (bad_type.status_code, bad_type.json()["detail"][0]["loc"]) == (422, ["body", "embedding_type"])
    with pytest.raises(openai.UnprocessableEntityError):
        client.embeddings.create(model=MODEL, input=[])
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        bad_json = http.post(fake.base_url + "/embeddings", content=b"{not json")
    assert bad_json.status_code == 422
    assert bad_json.json()["detail"][0] | {"ctx": None} == {
        "type": "json_invalid",
        "loc": ["body", 1],
        "msg": "JSON decode error",
        "input": {},
        "ctx": None,
    }


def test_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="jina-embeddings-v9", input="x")
    assert isinstance(caught.value.body, dict)
    assert re.fullmatch(RID + "Model 'jina-embeddings-v9' not found", caught.value.body["detail"])


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_fault_status(
    client: openai.OpenAI, fake: FakeJina, status: int, error_class: type[openai.APIStatusError]
) -> None:
    model = f"fault-status-{status}"
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model=model, input="x")
    assert type(caught.value) is error_class and caught.value.status_code == status
    assert len(fake.requests) == 1  # max_retries=0
    response = _post(fake, "/rerank", {"model": model, "query": "q", "documents": ["d"]})
    assert response.status_code == status and set(response.json()) == {"detail"}
    assert "retry-after" not in response.headers


def test_fault_garbage(client: openai.OpenAI, fake: FakeJina) -> None:
    # A 200 that is not JSON: the lenient SDK returns the text (given an explicit format, so it skips decoding).
    result: Any = client.embeddings.create(model="fault-garbage", input="x", encoding_format="float")
    assert result == "<html>502 Bad Gateway</html>"
    strict = openai.OpenAI(
        base_url=fake.base_url, api_key=fake.api_key, max_retries=0, _strict_response_validation=True
    )
    with strict, pytest.raises(openai.APIResponseValidationError):
        strict.embeddings.create(model="fault-garbage", input="x")
    response = _post(fake, "/rerank", {"model": "fault-garbage", "query": "q", "documents": ["d"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_fault_stall(client: openai.OpenAI, fake: FakeJina) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).embeddings.create(model="fault-stall-5", input="x")
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)
    quick = _post(fake, "/rerank", {"model": "fault-stall-0.1", "query": "q", "documents": ["d"]})
    assert quick.status_code == 200 and quick.json()["model"] == "fault-stall-0.1"


def test_unknown_path_and_method(fake: FakeJina) -> None:
    unknown = _post(fake, "/chat/completions", {"model": MODEL})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        wrong = http.get(fake.base_url + "/rerank")
    assert (wrong.status_code, wrong.json(), wrong.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "POST")


def test_lifecycle_and_clear() -> None:
    other = FakeJina(api_key="jina_other")
    with other as started:
        assert started is other and other.base_url == f"http://127.0.0.1:{other.port}/v1"
        assert _post(other, "/embeddings", {"model": MODEL, "input": "x"}).status_code == 200
        assert len(other.requests) == 1
        other.clear()
        assert other.requests == [] and other.disconnects == 0
        port = other.port
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}/v1/embeddings")
