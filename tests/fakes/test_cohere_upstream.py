"""Proves `FakeCohere` faithful: the official `cohere` SDK (sync and async) must parse all it sends.

The SDK parses leniently (unknown fields allowed, missing optional ones left None), so the tests also
check the raw wire objects field by field, and the fault models against what the SDK really raises.
Every client is built with `max_retries=0`: the SDK would otherwise retry 429 and 5xx answers with a
backoff starting at 1 s.
"""

from __future__ import annotations

import array
import base64
import json
import math
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import cohere
import httpx
import pytest
import pytest_asyncio
from cohere.base_client import AsyncBaseCohere, BaseCohere
from cohere.core.api_error import ApiError

from tests.fakes.cohere_upstream import MODELS, FakeCohere
from tests.fakes.relevance import relevance

EMBED_V3 = "embed-english-v3.0"
EMBED_V4 = "embed-v4.0"
RERANK = "rerank-v3.5"
TEXTS = ["hello there friend", "the quick brown fox", "hello there friend"]
DOCUMENTS = [
    "Carson City is the capital city of the American state of Nevada.",
    "Washington, D.C. is the capital of the United States.",
    "Capital punishment has existed in the United States since before it was a country.",
    "The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific Ocean.",
]
QUERY = "What is the capital of the United States?"


def _png(width: int, height: int) -> str:
    """A data URI whose bytes start like a PNG of that size (enough for the header the fake reads)."""
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sIIBBBBB", 13, b"IHDR", width, height, 8, 6, 0, 0, 0)
    return "data:image/png;base64," + base64.b64encode(header + b"\0" * 16).decode()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCohere]:
    with FakeCohere() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeCohere) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeCohere) -> Iterator[cohere.ClientV2]:
    with cohere.ClientV2(api_key=fake.api_key, base_url=fake.base_url, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeCohere) -> AsyncIterator[cohere.AsyncClientV2]:
    async with cohere.AsyncClientV2(api_key=fake.api_key, base_url=fake.base_url, max_retries=0) as sdk:
        yield sdk


def _post(fake: FakeCohere, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or fake.api_key}"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as http:
        return http.post(fake.base_url + path, content=content, headers=headers)


def _error(response: httpx.Response, status: int) -> str:
    """The message of a Cohere error envelope `{"id", "message"}`, checking its shape on the way."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"id", "message"} and len(body["id"]) == 36
    return str(body["message"])


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


# --- embed --------------------------------------------------------------------------------------


def test_embed_float_several_texts(client: cohere.ClientV2, fake: FakeCohere) -> None:
    raw = client.with_raw_response.embed(
        model=EMBED_V3, input_type="search_document", texts=TEXTS, embedding_types=["float"]
    )
    assert raw.headers["content-type"] == "application/json"
    assert len(raw.headers["x-debug-trace-id"]) == 32
    wire = raw.response.json()
    assert list(wire) == ["id", "texts", "embeddings", "meta", "response_type"]
    response = raw.data
    assert len(response.id) == 36 and response.response_type == "embeddings_by_type"
    assert response.texts == TEXTS and response.images is None
    vectors = response.embeddings.float_
    assert vectors is not None and len(vectors) == 3
    assert all(len(v) == 1024 and math.isclose(_norm(v), 1.0, rel_tol=1e-6) for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert response.meta is not None and response.meta.api_version is not None
    assert response.meta.api_version.version == "2"
    assert response.meta.billed_units is not None and response.meta.billed_units.input_tokens == 10
    assert wire["meta"] == {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 10}}
    assert set(wire["embeddings"]) == {"float"}
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v2/embed")
    assert recorded.headers["authorization"] == f"Bearer {fake.api_key}"
    assert recorded.json() == {
        "texts": TEXTS,
        "model": EMBED_V3,
        "input_type": "search_document",
        "embedding_types": ["float"],
    }


def test_embed_all_embedding_types(client: cohere.ClientV2) -> None:
    response = client.embed(
        model="embed-english-light-v3.0",
        input_type="search_query",
        texts=["one", "two words"],
        embedding_types=["float", "base64", "int8", "uint8", "binary", "ubinary"],
    )
    by_type = response.embeddings
    floats, encoded = by_type.float_, by_type.base64
    assert floats is not None and encoded is not None
    assert [len(v) for v in floats] == [384, 384]
    # base64: the float32 bytes (little-endian) of the same vector.
    assert [array.array("f", base64.b64decode(e)).tolist() for e in encoded] == floats
    int8, uint8, binary, ubinary = by_type.int8, by_type.uint8, by_type.binary, by_type.ubinary
    assert int8 is not None and uint8 is not None and binary is not None and ubinary is not None
    assert all(len(v) == 384 and all(-128 <= x <= 127 for x in v) for v in int8)
    assert [[x + 128 for x in v] for v in int8] == uint8
    assert all(x == 0 or (x > 0) == (f > 0) for x, f in zip(int8[0], floats[0], strict=True))
    assert all(len(v) == 384 // 8 and all(0 <= x <= 255 for x in v) for v in ubinary)
    assert [[x - 128 for x in v] for v in ubinary] == binary
    bits = [(ubinary[0][i // 8] >> (7 - i % 8)) & 1 for i in range(384)]
    assert bits == [int(f > 0) for f in floats[0]]


def test_embed_default_type_and_input_type_changes_vectors(client: cohere.ClientV2, fake: FakeCohere) -> None:
    query = client.embed(model=EMBED_V3, input_type="search_query", texts=["hello"])
    assert "embedding_types" not in fake.requests[-1].json()
    document = client.embed(model=EMBED_V3, input_type="search_document", texts=["hello"])
    assert query.embeddings.float_ is not None and document.embeddings.float_ is not None
    assert query.embeddings.base64 is None  # only float when no embedding_types are given
    assert query.embeddings.float_ != document.embeddings.float_
    again = client.embed(model=EMBED_V3, input_type="search_query", texts=["hello"])
    assert again.embeddings.float_ == query.embeddings.float_ and again.id != query.id


def test_embed_v4_output_dimension(client: cohere.ClientV2) -> None:
    full = client.embed(model=EMBED_V4, input_type="clustering", texts=["a b c"], embedding_types=["float"])
    assert full.embeddings.float_ is not None and len(full.embeddings.float_[0]) == 1536
    short = client.embed(model=EMBED_V4, input_type="clustering", texts=["a b c"], output_dimension=256)
    assert short.embeddings.float_ is not None
    (vector,) = short.embeddings.float_
    assert len(vector) == 256 and math.isclose(_norm(vector), 1.0, rel_tol=1e-6)
    prefix = full.embeddings.float_[0][:256]
    scale = _norm(prefix)
    assert all(math.isclose(s, f / scale, rel_tol=1e-4, abs_tol=1e-6) for s, f in zip(vector, prefix, strict=True))
    with pytest.raises(cohere.BadRequestError) as caught:
        client.embed(model=EMBED_V4, input_type="clustering", texts=["x"], output_dimension=100)
    assert "output_dimension must be one of [256, 512, 1024, 1536]" in caught.value.body["message"]
    with pytest.raises(cohere.BadRequestError):
        client.embed(model=EMBED_V3, input_type="clustering", texts=["x"], output_dimension=256)


def test_embed_missing_input_type_is_400(client: cohere.ClientV2, fake: FakeCohere) -> None:
    with pytest.raises(cohere.BadRequestError) as caught:
        client.embed(model=EMBED_V3, input_type=None, texts=["x"])
    assert caught.value.status_code == 400
    body = caught.value.body
    assert body["message"] == "invalid request: valid input_type must be provided with the provided model"
    assert set(body) == {"id", "message"}
    assert caught.value.headers is not None and "retry-after" not in caught.value.headers
    response = _post(fake, "/v2/embed", {"model": EMBED_V4, "texts": ["x"], "input_type": "search"})
    assert _error(response, 400) == "invalid request: valid input_type must be provided with the provided model"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"texts": ["x"] * 97}, "invalid request: total number of texts must be at most 96 - received 97"),
        ({"texts": ["ok", ""]}, "invalid request: inputs contains an element that is the empty string at index 1"),
        ({}, "invalid request: one of texts, images or inputs must be provided"),
        ({"texts": []}, "invalid request: one of texts, images or inputs must be provided"),
        ({"texts": "x"}, "invalid request: texts must be an array of strings"),
        ({"texts": ["x"], "embedding_types": []}, "embedding_types parameter is required"),
        ({"texts": ["x"], "truncate": "MIDDLE"}, "invalid request: truncate must be one of 'NONE', 'START' or 'END'"),
        ({"images": [_png(1, 1)]}, "invalid request: images must be used with input_type=image"),
    ],
)
def test_embed_rejects_bad_requests(fake: FakeCohere, body: dict[str, Any], message: str) -> None:
    request = {"model": EMBED_V3, "input_type": "classification"} | body
    assert _error(_post(fake, "/v2/embed", request), 400) == message


def test_embed_truncation_and_max_tokens(client: cohere.ClientV2, fake: FakeCohere) -> None:
    def vector(text: str, **options: Any) -> list[float]:
        floats = client.embed(model=EMBED_V3, input_type="search_query", texts=[text], **options).embeddings.float_
        assert floats is not None
        return floats[0]

    long = "one two three four five"
    assert vector(long, max_tokens=2) == vector("one two") == vector(long, max_tokens=2, truncate="END")
    assert vector(long, max_tokens=2, truncate="START") == vector("four five")
    tokens = client.embed(model=EMBED_V3, input_type="search_query", texts=[long], max_tokens=3).meta
    assert tokens is not None and tokens.billed_units is not None and tokens.billed_units.input_tokens == 3
    with pytest.raises(cohere.BadRequestError) as caught:
        client.embed(model=EMBED_V3, input_type="search_query", texts=["a", long], max_tokens=2, truncate="NONE")
    assert caught.value.body["message"].startswith("too many tokens: input at index 1 has 5 tokens")
    over_window = " ".join(["word"] * 600)  # embed v3 models read at most 512 tokens
    usage = client.embed(model=EMBED_V3, input_type="search_query", texts=[over_window]).meta
    assert usage is not None and usage.billed_units is not None and usage.billed_units.input_tokens == 512
    response = _post(
        fake, "/v2/embed", {"model": EMBED_V3, "input_type": "search_query", "texts": ["x"], "max_tokens": 0}
    )
    assert _error(response, 400) == "invalid request: max_tokens must be a positive integer, received 0"


def test_embed_images_and_mixed_inputs(client: cohere.ClientV2, fake: FakeCohere) -> None:
    image = client.embed(model=EMBED_V3, input_type="image", images=[_png(640, 480)], embedding_types=["float"])
    assert image.texts == [] and image.images is not None
    (info,) = image.images
    assert (info.width, info.height, info.format, info.bit_depth) == (640, 480, "png", 8)
    assert image.meta is not None and image.meta.billed_units is not None
    assert (image.meta.billed_units.images, image.meta.billed_units.input_tokens) == (1, 0)
    with pytest.raises(cohere.BadRequestError) as caught:
        client.embed(model=EMBED_V3, input_type="image", images=[_png(1, 1), _png(2, 2)])
    assert caught.value.body["message"] == "invalid request: total number of images must be at most 1 - received 2"
    inputs = [
        cohere.EmbedInput(content=[cohere.TextEmbedContent(text="a red bicycle")]),
        cohere.EmbedInput(
            content=[
                cohere.TextEmbedContent(text="a red bicycle"),
                cohere.ImageUrlEmbedContent(image_url=cohere.EmbedImageUrl(url=_png(2, 2))),
            ]
        ),
    ]
    mixed = client.embed(model=EMBED_V4, input_type="search_document", inputs=inputs, output_dimension=512)
    assert fake.requests[-1].json()["inputs"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": _png(2, 2)},
    }
    assert mixed.embeddings.float_ is not None and [len(v) for v in mixed.embeddings.float_] == [512, 512]
    assert mixed.embeddings.float_[0] != mixed.embeddings.float_[1]
    assert mixed.meta is not None and mixed.meta.billed_units is not None
    assert (mixed.meta.billed_units.input_tokens, mixed.meta.billed_units.images) == (6, 1)
    bad = {"model": EMBED_V4, "input_type": "image", "images": ["https://example.com/cat.png"]}
    assert "image at index 0 must be a valid data URI" in _error(_post(fake, "/v2/embed", bad), 400)


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_orders_by_relevance(client: cohere.ClientV2, fake: FakeCohere) -> None:
    raw = client.with_raw_response.rerank(model=RERANK, query=QUERY, documents=DOCUMENTS)
    wire = raw.response.json()
    response = raw.data
    expected = sorted(((relevance(QUERY, d), i) for i, d in enumerate(DOCUMENTS)), key=lambda p: (-p[0], p[1]))
    assert [(r.relevance_score, r.index) for r in response.results] == expected
    assert response.results[0].index == 1
    assert all(
        a.relevance_score >= b.relevance_score for a, b in zip(response.results, response.results[1:], strict=False)
    )
    assert response.id is not None and len(response.id) == 36
    assert wire["meta"] == {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}
    assert list(wire) == ["id", "results", "meta"] and list(wire["results"][0]) == ["index", "relevance_score"]
    assert fake.requests[-1].path == "/v2/rerank"
    assert fake.requests[-1].json() == {"model": RERANK, "query": QUERY, "documents": DOCUMENTS}


def test_rerank_top_n_and_max_tokens_per_doc(client: cohere.ClientV2) -> None:
    full = client.rerank(model=RERANK, query=QUERY, documents=DOCUMENTS)
    top = client.rerank(model=RERANK, query=QUERY, documents=DOCUMENTS, top_n=2)
    assert top.results == full.results[:2]
    assert len(client.rerank(model=RERANK, query=QUERY, documents=DOCUMENTS, top_n=50).results) == 4
    # Only the first 2 words of each document are read: none of them shares the query's words but "The".
    short = client.rerank(model=RERANK, query="islands ocean", documents=DOCUMENTS, max_tokens_per_doc=2)
    assert all(r.relevance_score < 0.02 for r in short.results)
    long = client.rerank(model=RERANK, query="islands ocean", documents=DOCUMENTS)
    assert long.results[0].index == 3 and long.results[0].relevance_score > 0.9
    many = client.rerank(model=RERANK, query="q", documents=[f"doc {i}" for i in range(250)], top_n=1)
    assert many.meta is not None and many.meta.billed_units is not None
    assert many.meta.billed_units.search_units == 3


def test_rerank_rejects_bad_requests(client: cohere.ClientV2, fake: FakeCohere) -> None:
    with pytest.raises(cohere.BadRequestError) as caught:
        client.rerank(model=RERANK, query=QUERY, documents=[])
    assert caught.value.body["message"] == "invalid request: list of documents must not be empty"
    with pytest.raises(cohere.BadRequestError) as caught:
        client.rerank(model=RERANK, query="   ", documents=DOCUMENTS)
    assert caught.value.body["message"] == "invalid request: query must not be empty or be only whitespace"
    missing = _post(fake, "/v2/rerank", {"model": RERANK, "documents": DOCUMENTS})
    assert _error(missing, 400) == "invalid request: query must not be empty or be only whitespace"
    blank = _post(fake, "/v2/rerank", {"model": RERANK, "query": "q", "documents": ["a", " "]})
    assert _error(blank, 400) == "invalid request: document at index 1 cannot be empty"
    objects = _post(fake, "/v2/rerank", {"model": RERANK, "query": "q", "documents": [{"text": "a"}]})
    assert _error(objects, 400) == "invalid request: documents must be an array of strings"
    with pytest.raises(cohere.BadRequestError) as caught:
        client.rerank(model=EMBED_V3, query=QUERY, documents=DOCUMENTS)
    assert caught.value.body["message"] == f"invalid request: model '{EMBED_V3}' is not supported by the rerank API"
    no_model = _post(fake, "/v2/rerank", {"query": "q", "documents": ["a"]})
    assert _error(no_model, 400) == "a model parameter is required for this endpoint."


def test_rerank_ignores_v1_return_documents(fake: FakeCohere) -> None:
    body = {"model": RERANK, "query": "q", "documents": ["q"], "return_documents": True}
    response = _post(fake, "/v2/rerank", body)
    assert response.status_code == 200
    assert response.json()["results"] == [{"index": 0, "relevance_score": relevance("q", "q")}]


# --- key check and models -----------------------------------------------------------------------


def test_check_api_key(fake: FakeCohere) -> None:
    # cohere.Client/ClientV2 replace check_api_key with a stub raising ValueError (deprecated since 5.0);
    # the generated BaseCohere client still calls POST /v1/check-api-key.
    with httpx.Client() as http:
        sdk = BaseCohere(token=fake.api_key, base_url=fake.base_url, httpx_client=http, max_retries=0)
        checked = sdk.check_api_key()
        assert (checked.valid, checked.organization_id, checked.owner_id) == (
            True,
            fake.organization_id,
            fake.owner_id,
        )
        wrong = BaseCohere(token="nope", base_url=fake.base_url, httpx_client=http, max_retries=0)
        with pytest.raises(cohere.UnauthorizedError):
            wrong.check_api_key()
    assert [(r.method, r.path, r.body) for r in fake.requests] == [("POST", "/v1/check-api-key", b"")] * 2


def test_models_list_filters_and_pages(client: cohere.ClientV2, fake: FakeCohere) -> None:
    listed = client.models.list()
    assert [m.name for m in listed.models] == [m.name for m in MODELS] and listed.next_page_token is None
    assert fake.requests[-1].query == ""
    embed_model = next(m for m in listed.models if m.name == EMBED_V3)
    assert (embed_model.endpoints, embed_model.finetuned, embed_model.context_length) == (
        ["embed", "classify"],
        False,
        512,
    )
    assert embed_model.tokenizer_url == f"https://storage.googleapis.com/cohere-public/tokenizers/{EMBED_V3}.json"
    rerankers = client.models.list(endpoint="rerank")
    assert [m.name for m in rerankers.models] == ["rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0"]
    default = client.models.list(endpoint="embed", default_only=True)
    assert [m.name for m in default.models] == [EMBED_V4]
    assert fake.requests[-1].query == "endpoint=embed&default_only=true"
    names: list[str] = []
    token: str | None = None
    while True:
        page = client.models.list(page_size=4, page_token=token)
        names += [m.name for m in page.models]
        token = page.next_page_token
        if token is None:
            break
    assert names == [m.name for m in MODELS]
    with pytest.raises(cohere.BadRequestError):
        client.models.list(default_only=True)


def test_models_get(client: cohere.ClientV2, fake: FakeCohere) -> None:
    model = client.models.get(EMBED_V4)
    assert (model.name, model.endpoints, model.default_endpoints, model.context_length) == (
        EMBED_V4,
        ["embed"],
        ["embed"],
        128000,
    )
    assert fake.requests[-1].path == f"/v1/models/{EMBED_V4}"
    with pytest.raises(cohere.NotFoundError) as caught:
        client.models.get("embed-nope")
    assert caught.value.body["message"] == (
        "model 'embed-nope' not found, make sure the correct model ID was used and that you have access to the model."
    )


# --- auth, routing and faults -------------------------------------------------------------------


def test_wrong_and_missing_key_are_401(fake: FakeCohere) -> None:
    with (
        cohere.ClientV2(api_key="wrong-key", base_url=fake.base_url, max_retries=0) as sdk,
        pytest.raises(cohere.UnauthorizedError) as caught,
    ):
        sdk.embed(model=EMBED_V3, input_type="search_query", texts=["x"])
    assert caught.value.status_code == 401 and caught.value.body["message"] == "invalid api token"
    with httpx.Client() as http:
        missing = http.post(fake.base_url + "/v2/rerank", json={"model": RERANK, "query": "q", "documents": ["a"]})
        assert _error(missing, 401) == "no api key supplied"
        basic = http.get(fake.base_url + "/v1/models", headers={"authorization": f"Basic {fake.api_key}"})
        assert _error(basic, 401) == "no api key supplied"


def test_unknown_model_route_and_method(client: cohere.ClientV2, fake: FakeCohere) -> None:
    with pytest.raises(cohere.NotFoundError) as caught:
        client.embed(model="embed-english-v9.0", input_type="search_query", texts=["x"])
    assert caught.value.body["message"].startswith("model 'embed-english-v9.0' not found, make sure")
    assert _error(_post(fake, "/v2/chat", {"model": "command-a-03-2025"}), 404) == "404 page not found"
    assert _error(_post(fake, "/v1/embed", {"model": EMBED_V3}), 404) == "404 page not found"
    with httpx.Client() as http:
        wrong_method = http.get(fake.base_url + "/v2/embed", headers={"authorization": f"Bearer {fake.api_key}"})
    assert _error(wrong_method, 405) == "405 method not allowed" and wrong_method.headers["allow"] == "POST"
    assert _error(_post(fake, "/v2/embed", b"{not json"), 400).startswith("invalid json syntax: ")
    assert _error(_post(fake, "/v2/embed", b"[]"), 400).startswith("invalid json syntax: ")


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (400, cohere.BadRequestError, "invalid request: valid input_type must be provided with the provided model"),
        (401, cohere.UnauthorizedError, "invalid api token"),
        (404, cohere.NotFoundError, "model 'fault-status-404' not found, make sure the correct model ID was used"),
        (
            429,
            cohere.TooManyRequestsError,
            "You are past the per minute request limit, please wait and try again later.",
        ),
        (500, cohere.InternalServerError, "internal server error, this has been reported to our developers"),
        (503, cohere.ServiceUnavailableError, "service unavailable"),
    ],
)
def test_fault_status_raises_the_sdk_error(
    client: cohere.ClientV2, fake: FakeCohere, status: int, error: type[ApiError], message: str
) -> None:
    with pytest.raises(error) as caught:
        client.embed(model=f"fault-status-{status}", input_type="search_query", texts=["x"])
    assert caught.value.status_code == status
    assert caught.value.body["message"].startswith(message)
    assert caught.value.headers is not None and "retry-after" not in caught.value.headers
    assert len(fake.requests) == 1  # max_retries=0: the SDK did not retry


def test_fault_status_on_rerank_and_other_codes(client: cohere.ClientV2, fake: FakeCohere) -> None:
    with pytest.raises(cohere.BadRequestError) as caught:
        client.rerank(model="fault-status-400", query="q", documents=["a"])
    assert caught.value.body["message"] == "invalid request: list of documents must not be empty"
    with pytest.raises(ApiError) as other:
        client.rerank(model="fault-status-502", query="q", documents=["a"])
    assert other.value.status_code == 502 and other.value.body["message"] == "Injected fault: HTTP 502."


def test_fault_garbage(client: cohere.ClientV2, fake: FakeCohere) -> None:
    # A 200 that is not JSON: the SDK raises its base ApiError carrying the status and the body text.
    with pytest.raises(ApiError) as caught:
        client.embed(model="fault-garbage", input_type="search_query", texts=["x"])
    assert (caught.value.status_code, caught.value.body) == (200, "<html>502 Bad Gateway</html>")
    response = _post(fake, "/v2/rerank", {"model": "fault-garbage", "query": "q", "documents": ["a"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_fault_cut(client: cohere.ClientV2) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=r"received \d+ bytes, expected \d+"):
        client.rerank(model="fault-cut-1", query="q", documents=["a", "b"])


def test_fault_stall_times_out(client: cohere.ClientV2, fake: FakeCohere) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.embed(model="fault-stall-5", input_type="search_query", texts=["x"], request_options={"timeout": 0.3})
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)  # the fake saw the client give up while it stalled
    quick = client.rerank(model="fault-stall-0.1", query="a", documents=["a", "b"])
    assert [r.index for r in quick.results] == [0, 1]


# --- async client -------------------------------------------------------------------------------


async def test_async_client(aclient: cohere.AsyncClientV2, fake: FakeCohere) -> None:
    embedded = await aclient.embed(
        model=EMBED_V3, input_type="search_document", texts=TEXTS, embedding_types=["float", "base64"]
    )
    floats, encoded = embedded.embeddings.float_, embedded.embeddings.base64
    assert floats is not None and encoded is not None and len(floats) == len(encoded) == 3
    assert array.array("f", base64.b64decode(encoded[1])).tolist() == floats[1]
    ranked = await aclient.rerank(model=RERANK, query=QUERY, documents=DOCUMENTS, top_n=1)
    assert [r.index for r in ranked.results] == [1]
    assert [m.name for m in (await aclient.models.list(endpoint="rerank", default_only=True)).models] == [RERANK]
    with pytest.raises(cohere.TooManyRequestsError):
        await aclient.rerank(model="fault-status-429", query="q", documents=["a"])
    async with httpx.AsyncClient() as http:
        base = AsyncBaseCohere(token=fake.api_key, base_url=fake.base_url, httpx_client=http, max_retries=0)
        assert (await base.check_api_key()).valid is True
    assert [r.path for r in fake.requests] == [
        "/v2/embed",
        "/v2/rerank",
        "/v1/models",
        "/v2/rerank",
        "/v1/check-api-key",
    ]


# --- harness ------------------------------------------------------------------------------------


def test_lifecycle_and_clear() -> None:
    other = FakeCohere(api_key="co-other")
    with other as started:
        assert started is other and other.base_url == f"http://127.0.0.1:{other.port}"
        response = httpx.get(other.base_url + "/v1/models", headers={"authorization": "Bearer co-other"})
        assert response.status_code == 200 and len(other.requests) == 1
        other.clear()
        assert other.requests == [] and other.disconnects == 0
        port = other.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")
