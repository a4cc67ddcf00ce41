"""Proves `FakeVoyage` faithful: the official `voyageai` SDK (sync and async) must send what it parses and map
the fake's errors to its own exception classes; raw httpx checks the wire shapes the SDK hides."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
import voyageai.error
from voyageai.api_resources.reranking import Reranking
from voyageai.client import Client
from voyageai.client_async import AsyncClient

from tests.fakes.voyage_upstream import EMPTY_INPUT, INVALID_KEY, RATE_LIMITED, FakeVoyage

MODEL = "voyage-3.5"
RERANKER = "rerank-2.5"
TEXTS = ["hello world", "the second text here", "hello world"]
QUERY = "which city is the capital of France"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital city of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVoyage]:
    with FakeVoyage() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeVoyage) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeVoyage) -> Client:
    return Client(api_key=fake.api_key, max_retries=0, base_url=fake.base_url)


def _post(fake: FakeVoyage, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or fake.api_key}"}
    with httpx.Client() as http:
        return http.post(fake.base_url + path, json=body, headers=headers)


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-7) for x, y in zip(a, b, strict=True))


# --- embeddings ---------------------------------------------------------------------------------


def test_embed_texts(client: Client, fake: FakeVoyage) -> None:
    result = client.embed(TEXTS, model=MODEL, input_type="document")
    assert [len(e) for e in result.embeddings] == [1024, 1024, 1024]
    assert all(isinstance(v, float) for v in result.embeddings[0])
    assert math.isclose(math.hypot(*result.embeddings[0]), 1.0, rel_tol=1e-5)
    assert result.embeddings[0] == result.embeddings[2] != result.embeddings[1]
    assert result.total_tokens == 2 + 4 + 2
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/embeddings")
    assert recorded.headers["authorization"] == f"Bearer {fake.api_key}"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.json() == {  # what the SDK sends: explicit nulls, base64 unless asked otherwise
        "input": TEXTS,
        "model": MODEL,
        "input_type": "document",
        "truncation": True,
        "output_dtype": None,
        "output_dimension": None,
        "encoding_format": "base64",
    }


def test_embed_wire_shape_and_base64_agree(client: Client, fake: FakeVoyage) -> None:
    raw = _post(fake, "/embeddings", {"input": "hello world", "model": MODEL})
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    body = raw.json()
    assert set(body) == {"object", "data", "model", "usage"}
    assert (body["object"], body["model"], body["usage"]) == ("list", MODEL, {"total_tokens": 2})
    (item,) = body["data"]
    assert (item["object"], item["index"], len(item["embedding"])) == ("embedding", 0, 1024)
    # The SDK asked for base64 and decoded it with numpy: the same float32 values as the JSON floats.
    assert client.embed(["hello world"], model=MODEL).embeddings[0] == item["embedding"]


def test_embed_input_type_and_output_dimension(client: Client) -> None:
    plain = client.embed(["hello world"], model=MODEL).embeddings[0]
    query = client.embed(["hello world"], model=MODEL, input_type="query").embeddings[0]
    document = client.embed(["hello world"], model=MODEL, input_type="document").embeddings[0]
    assert len({tuple(plain), tuple(query), tuple(document)}) == 3
    short = client.embed(["hello world"], model=MODEL, output_dimension=256).embeddings[0]
    assert len(short) == 256 and math.isclose(math.hypot(*short), 1.0, rel_tol=1e-5)
    scale = math.hypot(*plain[:256])
    assert _close(short, [v / scale for v in plain[:256]])
    assert len(client.embed(["x"], model=MODEL, output_dimension=2048).embeddings[0]) == 2048
    assert len(client.embed(["x"], model="voyage-code-2").embeddings[0]) == 1536


def test_embed_quantized_dtypes(client: Client, fake: FakeVoyage) -> None:
    floats = client.embed(["hello world"], model=MODEL, output_dimension=256).embeddings[0]
    int8 = client.embed(["hello world"], model=MODEL, output_dimension=256, output_dtype="int8").embeddings[0]
    uint8 = client.embed(["hello world"], model=MODEL, output_dimension=256, output_dtype="uint8").embeddings[0]
    binary = client.embed(["hello world"], model=MODEL, output_dimension=256, output_dtype="binary").embeddings[0]
    ubinary = client.embed(["hello world"], model=MODEL, output_dimension=256, output_dtype="ubinary").embeddings[0]
    assert [len(int8), len(uint8), len(binary), len(ubinary)] == [256, 256, 32, 32]
    assert all(isinstance(v, int) for v in int8 + uint8 + binary + ubinary)
    assert int8 == [round(v * 127) for v in floats] and all(0 <= v <= 255 for v in uint8)
    assert binary == [v - 128 for v in ubinary]
    first_byte = sum(1 << (7 - bit) for bit in range(8) if floats[bit] > 0)
    assert ubinary[0] == first_byte
    # Without encoding_format the integers travel as JSON lists; the SDK's base64 decoding gave the same ones.
    raw = _post(
        fake,
        "/embeddings",
        {"input": ["hello world"], "model": MODEL, "output_dimension": 256, "output_dtype": "binary"},
    )
    assert raw.json()["data"][0]["embedding"] == binary


def test_embed_truncation_and_context_window(client: Client) -> None:
    long_text = "word " * 4001  # voyage-2 has a 4000 token window
    truncated = client.embed([long_text, "short"], model="voyage-2")
    assert truncated.total_tokens == 4000 + 1
    with pytest.raises(voyageai.error.InvalidRequestError) as caught:
        client.embed(["short", long_text], model="voyage-2", truncation=False)
    assert caught.value.user_message == (
        "Request to model 'voyage-2' failed. The example at index 1 in your batch has too many tokens and does not "
        "fit into the model's context window of 4000 tokens. Please lower the number of tokens in the listed "
        "example(s) or use truncation."
    )


def test_embed_batch_limits(fake: FakeVoyage) -> None:
    too_many = _post(fake, "/embeddings", {"input": ["x"] * 1001, "model": MODEL})
    assert too_many.status_code == 400
    assert too_many.json() == {"detail": "The batch size limit is 1000. Your batch size is 1001."}
    too_long = _post(fake, "/embeddings", {"input": ["word " * 30_000] * 5, "model": "voyage-4-large"})
    assert too_long.status_code == 400
    assert too_long.json() == {
        "detail": "Request to model 'voyage-4-large' failed. The max allowed tokens per submitted batch is 120000. "
        "Your batch has 150000 tokens after truncation. Please lower the number of tokens in the batch.",
        "error_code": "TOO_MANY_TOKENS_IN_BATCH",
    }


@pytest.mark.parametrize(
    ("texts", "options", "detail"),
    [
        (["ok"], {"model": "wrong-model-name"}, "Model wrong-model-name is not supported. Supported models are ["),
        (["ok"], {"model": MODEL, "input_type": "doc"}, "Value 'doc' supplied for argument 'input_type' is not valid"),
        (["ok"], {"model": MODEL, "output_dimension": 300}, "Value '300' supplied for argument 'output_dimension'"),
        (["ok"], {"model": "voyage-law-2", "output_dimension": 512}, "Value '512' supplied for argument 'output_"),
        (["ok"], {"model": "voyage-2", "output_dtype": "int8"}, "Value 'int8' supplied for argument 'output_dtype'"),
        (["ok", ""], {"model": MODEL}, EMPTY_INPUT),
        ([], {"model": MODEL}, EMPTY_INPUT),
    ],
)
def test_embed_invalid_requests(client: Client, texts: list[str], options: Any, detail: str) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError) as caught:
        client.embed(texts, **options)
    error = caught.value
    assert error.http_status == 400 and isinstance(error.json_body, dict)
    assert set(error.json_body) == {"detail"} and error.json_body["detail"].startswith(detail)
    assert str(error) == error.json_body["detail"]


def test_embed_accepted_values_in_messages(fake: FakeVoyage) -> None:
    response = _post(fake, "/embeddings", {"input": "x", "model": "voyage-3-large", "output_dimension": 1536})
    assert response.json() == {
        "detail": "Value '1536' supplied for argument 'output_dimension' is not valid -- accepted values for "
        "'voyage-3-large' are [256, 512, 1024, 2048]."
    }
    response = _post(fake, "/embeddings", {"input": "x", "model": MODEL, "input_type": "passage"})
    assert response.json() == {
        "detail": "Value 'passage' supplied for argument 'input_type' is not valid -- accepted values are 'query' or "
        "'document'"
    }


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_order_and_top_k(client: Client, fake: FakeVoyage) -> None:
    reranking = client.rerank(QUERY, DOCUMENTS, model=RERANKER)
    assert [r.index for r in reranking.results] == [1, 0, 2, 3]
    scores = [r.relevance_score for r in reranking.results]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert all(r.document == DOCUMENTS[r.index] for r in reranking.results)
    assert reranking.total_tokens == 7 * 4 + (6 + 7 + 6 + 3)
    top = client.rerank(QUERY, DOCUMENTS, model=RERANKER, top_k=2)
    assert [(r.index, r.relevance_score) for r in top.results] == [
        (r.index, r.relevance_score) for r in reranking.results[:2]
    ]
    assert fake.requests[0].path == "/v1/rerank"
    assert fake.requests[-1].json() == {
        "query": QUERY,
        "documents": DOCUMENTS,
        "model": RERANKER,
        "top_k": 2,
        "truncation": True,
    }


def test_rerank_return_documents(fake: FakeVoyage) -> None:
    plain = _post(fake, "/rerank", {"query": QUERY, "documents": DOCUMENTS, "model": RERANKER}).json()
    assert set(plain) == {"object", "data", "model", "usage"}
    assert (plain["object"], plain["model"]) == ("list", RERANKER)
    assert all(set(item) == {"relevance_score", "index"} for item in plain["data"])
    # The SDK's Client.rerank has no return_documents; its resource layer passes it through and parses the reply.
    response: Any = Reranking.create(  # type: ignore[no-untyped-call]  # the SDK's resource layer is untyped
        query=QUERY,
        documents=DOCUMENTS,
        model=RERANKER,
        return_documents=True,
        top_k=1,
        api_key=fake.api_key,
        base_url=fake.base_url,
    )
    (item,) = response.data
    assert (item.index, item.document) == (1, DOCUMENTS[1])
    assert item.relevance_score == plain["data"][0]["relevance_score"]
    assert response.usage.total_tokens == plain["usage"]["total_tokens"]


def test_rerank_invalid_requests(client: Client, fake: FakeVoyage) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError) as caught:
        client.rerank(QUERY, DOCUMENTS, model="voyage-rerank-2")
    assert caught.value.user_message == (
        "Model voyage-rerank-2 is not supported. Supported models are ['rerank-2.5', 'rerank-2.5-lite', 'rerank-2', "
        "'rerank-2-lite', 'rerank-1', 'rerank-lite-1']."
    )
    with pytest.raises(voyageai.error.InvalidRequestError):
        client.rerank(QUERY, DOCUMENTS * 300, model=RERANKER)
    with pytest.raises(voyageai.error.InvalidRequestError):
        client.rerank(QUERY, [], model=RERANKER)
    missing = _post(fake, "/rerank", {"documents": DOCUMENTS, "model": RERANKER})
    assert missing.status_code == 400 and missing.json() == {"detail": "Field 'query' is required."}


# --- async client -------------------------------------------------------------------------------


async def test_async_client(fake: FakeVoyage) -> None:
    client = AsyncClient(api_key=fake.api_key, max_retries=0, base_url=fake.base_url)
    result = await client.embed(TEXTS, model=MODEL, input_type="query", output_dimension=512)
    assert [len(e) for e in result.embeddings] == [512, 512, 512] and result.total_tokens == 8
    reranking = await client.rerank(QUERY, DOCUMENTS, model=RERANKER, top_k=3)
    assert [r.index for r in reranking.results] == [1, 0, 2]
    with pytest.raises(voyageai.error.RateLimitError):
        await client.embed(["x"], model="fault-status-429")
    assert [r.path for r in fake.requests] == ["/v1/embeddings", "/v1/rerank", "/v1/embeddings"]


# --- auth and faults ----------------------------------------------------------------------------


def test_wrong_and_missing_api_key(fake: FakeVoyage) -> None:
    wrong = Client(api_key="pa-wrong", max_retries=0, base_url=fake.base_url)
    with pytest.raises(voyageai.error.AuthenticationError) as caught:
        wrong.embed(["x"], model=MODEL)
    assert caught.value.http_status == 401
    assert caught.value.json_body == {"detail": INVALID_KEY}
    assert fake.requests[-1].headers["authorization"] == "Bearer pa-wrong"
    with httpx.Client() as http:
        missing = http.post(fake.base_url + "/rerank", json={"query": "q", "documents": ["d"], "model": RERANKER})
    assert (missing.status_code, missing.json()) == (401, {"detail": INVALID_KEY})


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, voyageai.error.InvalidRequestError),
        (401, voyageai.error.AuthenticationError),
        (403, voyageai.error.APIError),
        (429, voyageai.error.RateLimitError),
        (500, voyageai.error.ServerError),
        (503, voyageai.error.ServiceUnavailableError),
    ],
)
def test_fault_status(
    client: Client, fake: FakeVoyage, status: int, error_class: type[voyageai.error.VoyageError]
) -> None:
    with pytest.raises(voyageai.error.VoyageError) as caught:
        client.embed(["x"], model=f"fault-status-{status}")
    error = caught.value
    assert type(error) is error_class and error.http_status == status
    assert len(fake.requests) == 1  # max_retries=0
    response = _post(fake, "/rerank", {"query": "q", "documents": ["d"], "model": f"fault-status-{status}"})
    assert response.status_code == status and set(response.json()) == {"detail"}
    assert "retry-after" not in response.headers
    if status == 429:
        assert error.user_message == RATE_LIMITED


def test_fault_garbage(client: Client, fake: FakeVoyage) -> None:
    with pytest.raises(voyageai.error.APIError) as caught:
        client.embed(["x"], model="fault-garbage")
    assert caught.value.http_status == 200 and "<html>502 Bad Gateway</html>" in str(caught.value)
    response = _post(fake, "/rerank", {"query": "q", "documents": ["d"], "model": "fault-garbage"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_fault_stall(fake: FakeVoyage) -> None:
    impatient = Client(api_key=fake.api_key, max_retries=0, base_url=fake.base_url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(voyageai.error.Timeout):
        impatient.embed(["x"], model="fault-stall-5")
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)
    patient = Client(api_key=fake.api_key, max_retries=0, base_url=fake.base_url)
    reranking = patient.rerank("q", ["d"], model="fault-stall-0.1")
    assert [r.index for r in reranking.results] == [0]


def test_unknown_path_method_and_json(fake: FakeVoyage) -> None:
    assert (_post(fake, "/chat/completions", {}).status_code, _post(fake, "/nope", {}).json()) == (
        404,
        {"detail": "Not Found"},
    )
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        wrong = http.get(fake.base_url + "/embeddings")
        bad_json = http.post(fake.base_url + "/embeddings", content=b"{not json")
    assert (wrong.status_code, wrong.json(), wrong.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "POST")
    assert (bad_json.status_code, bad_json.json()) == (400, {"detail": "The request body is not a valid JSON."})
    assert [r.method for r in fake.requests] == ["POST", "POST", "GET", "POST"]


def test_lifecycle_and_clear() -> None:
    other = FakeVoyage(api_key="pa-other")
    with other as started:
        assert started is other and other.base_url == f"http://127.0.0.1:{other.port}/v1"
        assert _post(other, "/embeddings", {"input": "x", "model": MODEL}).status_code == 200
        assert len(other.requests) == 1
        other.clear()
        assert other.requests == [] and other.disconnects == 0
        port = other.port
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}/v1/embeddings")
