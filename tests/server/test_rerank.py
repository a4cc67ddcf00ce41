"""Rerank and non-OpenAI embeddings end to end: the gateway in front of faithful fakes of Cohere, Jina, Voyage,
Text Embeddings Inference and a llama.cpp reranker, called with httpx, the official ``cohere`` SDK and ``openai``."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

import cohere
import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY
from tests.fakes.cohere_upstream import FakeCohere
from tests.fakes.jina_upstream import FakeJina
from tests.fakes.llamacpp_upstream import FakeLlamaCppRerank
from tests.fakes.relevance import relevance
from tests.fakes.tei_upstream import FakeTEI
from tests.fakes.voyage_upstream import FakeVoyage
from tests.gateway import GatewayProcess

PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - {name: cohere, provider: cohere, credentials: {api_key: "${COHERE_KEY}", base_url: "${COHERE_URL}"},
     models: ["*"]}
  - {name: jina, provider: jina, credentials: {api_key: "${JINA_KEY}", base_url: "${JINA_URL}"}, models: ["*"]}
  - {name: voyage, provider: voyage, credentials: {api_key: "${VOYAGE_KEY}", base_url: "${VOYAGE_URL}"},
     models: ["*"]}
  - name: tei
    provider: huggingface_tei
    credentials: {server_url: "${TEI_RERANK_URL}"}
    models: [{model: bge-reranker-base, model_type: rerank}]
  - name: tei-embed
    provider: huggingface_tei
    credentials: {server_url: "${TEI_EMBED_URL}"}
    models: [{model: bge-small-en, model_type: embeddings}]
  - name: llamacpp
    provider: openai_compatible
    credentials: {base_url: "${LLAMACPP_URL}/v1"}
    models: [{model: bge-reranker-v2-m3, model_type: rerank}]
routes:
  - model: rerank
    deployments: [{target: cohere/rerank-v3.5}]
router: {retries: 0}
"""

QUERY = "What is the capital of France?"
DOCUMENTS = ["Berlin is the capital of Germany.", "The Eiffel tower is in Paris.",
             "Paris is the capital of France.", "Bananas are yellow."]
EXPECTED = sorted(range(len(DOCUMENTS)), key=lambda i: -relevance(QUERY, DOCUMENTS[i]))
RERANKERS = ["cohere/rerank-v3.5", "jina/jina-reranker-v2-base-multilingual", "voyage/rerank-2.5",
             "tei/bge-reranker-base", "llamacpp/bge-reranker-v2-m3", "rerank"]


class _Fake(Protocol):
    def start(self) -> object: ...
    def stop(self) -> None: ...
    def clear(self) -> None: ...


class Upstreams:
    def __init__(self) -> None:
        self.cohere = FakeCohere("co-canary-key-1")
        self.jina = FakeJina("jina_canary_key_2")
        self.voyage = FakeVoyage("pa-canary-key-3")
        self.tei_rerank = FakeTEI(model_type="reranker")
        self.tei_embed = FakeTEI(model_type="embedding")
        self.llamacpp = FakeLlamaCppRerank()
        self.all: list[_Fake] = [self.cohere, self.jina, self.voyage, self.tei_rerank, self.tei_embed, self.llamacpp]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    fakes = Upstreams()
    for fake in fakes.all:
        fake.start()
    try:
        yield fakes
    finally:
        for fake in fakes.all:
            fake.stop()


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "COHERE_KEY": upstreams.cohere.api_key, "COHERE_URL": upstreams.cohere.base_url,
           "JINA_KEY": str(upstreams.jina.api_key), "JINA_URL": upstreams.jina.base_url,
           "VOYAGE_KEY": str(upstreams.voyage.api_key), "VOYAGE_URL": upstreams.voyage.base_url,
           "TEI_RERANK_URL": upstreams.tei_rerank.base_url, "TEI_EMBED_URL": upstreams.tei_embed.base_url,
           "LLAMACPP_URL": upstreams.llamacpp.base_url}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def rerank(gateway: GatewayProcess, path: str = "/v1/rerank", **body: Any) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers={"authorization": f"Bearer {GATEWAY_KEY}"}, timeout=10)


@pytest.mark.parametrize("model", RERANKERS)
def test_every_reranker_answers_in_one_shape_best_first(gateway: GatewayProcess, model: str) -> None:
    response = rerank(gateway, model=model, query=QUERY, documents=DOCUMENTS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["index"] for r in body["results"]] == EXPECTED
    scores = [r["relevance_score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert [r["document"]["text"] for r in body["results"]] == [DOCUMENTS[i] for i in EXPECTED]
    assert body["id"].startswith("rerank-") and body["object"] == "list"
    assert response.headers["x-model-runtime-deployment"].split("/")[0] == model.split("/")[0].replace(
        "rerank", "cohere")


@pytest.mark.parametrize("model", RERANKERS)
def test_top_n_threshold_and_documents_off(gateway: GatewayProcess, model: str) -> None:
    top = rerank(gateway, model=model, query=QUERY, documents=DOCUMENTS, top_n=2, return_documents=False).json()
    assert [r["index"] for r in top["results"]] == EXPECTED[:2]
    assert all("document" not in r for r in top["results"])
    everything = rerank(gateway, model=model, query=QUERY, documents=DOCUMENTS).json()["results"]
    cut = everything[1]["relevance_score"]
    above = rerank(gateway, model=model, query=QUERY, documents=DOCUMENTS, score_threshold=cut).json()["results"]
    assert [r["index"] for r in above] == [r["index"] for r in everything if r["relevance_score"] >= cut]


def test_documents_as_objects_at_the_root_path_and_voyage_top_k(gateway: GatewayProcess) -> None:
    objects = [{"text": d} for d in DOCUMENTS]
    body = rerank(gateway, "/rerank", model="jina/jina-reranker-v2-base-multilingual", query=QUERY,
                  documents=objects, top_k=1).json()
    assert [r["index"] for r in body["results"]] == EXPECTED[:1]


def test_what_each_upstream_was_sent(gateway: GatewayProcess, upstreams: Upstreams) -> None:
    for fake in upstreams.all:
        fake.clear()
    rerank(gateway, model="voyage/rerank-2.5", query=QUERY, documents=DOCUMENTS, top_n=2)
    rerank(gateway, model="cohere/rerank-v3.5", query=QUERY, documents=[{"text": d} for d in DOCUMENTS], top_n=3)
    rerank(gateway, model="tei/bge-reranker-base", query=QUERY, documents=DOCUMENTS, top_n=1)
    voyage = upstreams.voyage.requests[-1]
    assert voyage.path == "/v1/rerank" and voyage.headers["authorization"] == "Bearer pa-canary-key-3"
    assert voyage.json() == {"model": "rerank-2.5", "query": QUERY, "documents": DOCUMENTS,
                             "return_documents": False, "top_k": 2}
    sent = upstreams.cohere.requests[-1]
    assert sent.path == "/v2/rerank"
    assert sent.json() == {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS, "top_n": 3}
    tei = upstreams.tei_rerank.requests[-1]
    assert tei.path == "/rerank" and tei.json()["texts"] == DOCUMENTS  # TEI scores all; the gateway cuts


def test_usage_and_cost(gateway: GatewayProcess) -> None:
    cohere_reply = rerank(gateway, model="cohere/rerank-v3.5", query=QUERY, documents=DOCUMENTS)
    assert cohere_reply.json()["usage"] == {"search_units": 1}
    assert Decimal(cohere_reply.headers["x-model-runtime-cost"]) == Decimal("0.002")  # $2 per 1,000 searches
    voyage_reply = rerank(gateway, model="voyage/rerank-2.5", query=QUERY, documents=DOCUMENTS)
    tokens = voyage_reply.json()["usage"]["total_tokens"]
    assert tokens > 0
    assert Decimal(voyage_reply.headers["x-model-runtime-cost"]) == Decimal("0.05") * tokens / 1_000_000


def test_cohere_sdk_reranks_through_the_gateway(gateway: GatewayProcess) -> None:
    with cohere.ClientV2(api_key=GATEWAY_KEY, base_url=gateway.url) as client:
        answer = client.rerank(model="rerank", query=QUERY, documents=DOCUMENTS, top_n=2,
                               request_options={"max_retries": 0})
    assert [r.index for r in answer.results] == EXPECTED[:2]
    with cohere.ClientV2(api_key="wrong", base_url=gateway.url) as client, pytest.raises(cohere.UnauthorizedError):
        client.rerank(model="rerank", query=QUERY, documents=DOCUMENTS, request_options={"max_retries": 0})


@pytest.mark.parametrize(("body", "status", "param", "code"), [
    ({"model": "rerank", "query": QUERY, "documents": []}, 400, "documents", "empty_array"),
    ({"model": "rerank", "query": "", "documents": DOCUMENTS}, 400, "query", "empty_input"),
    ({"model": "rerank", "documents": DOCUMENTS}, 400, "query", "missing_required_parameter"),
    ({"model": "rerank", "query": QUERY, "documents": [1, 2]}, 400, "documents[0]", "invalid_value"),
    ({"model": "rerank", "query": QUERY, "documents": DOCUMENTS, "top_n": 0}, 400, "top_n", "invalid_value"),
    ({"model": "nobody/x", "query": QUERY, "documents": DOCUMENTS}, 404, "model", "model_not_found"),
    ({"model": "cohere/embed-v4.0", "query": QUERY, "documents": DOCUMENTS}, 400, "model", None),
    ({"model": "cohere/fault-status-429", "query": QUERY, "documents": DOCUMENTS}, 429, None, None),
    ({"model": "jina/fault-status-500", "query": QUERY, "documents": DOCUMENTS}, 502, None, None),
    ({"model": "voyage/fault-garbage", "query": QUERY, "documents": DOCUMENTS}, 502, None, "upstream_invalid_response"),
])
def test_rerank_errors(gateway: GatewayProcess, body: dict[str, Any], status: int, param: str | None,
                       code: str | None) -> None:
    response = rerank(gateway, **body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    for secret in ("co-canary-key-1", "jina_canary_key_2", "pa-canary-key-3"):
        assert secret not in response.text


def _floats(value: Any) -> list[float]:
    if isinstance(value, str):
        raw = base64.b64decode(value)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(value)


@pytest.mark.parametrize(("model", "dims"), [("cohere/embed-v4.0", 1536), ("cohere/embed-english-light-v3.0", 384),
                                             ("jina/jina-embeddings-v3", 1024), ("voyage/voyage-3.5", 1024),
                                             ("tei-embed/bge-small-en", None)])
def test_embeddings_through_the_openai_sdk(gateway: GatewayProcess, model: str, dims: int | None) -> None:
    texts = ["first text", "second text", "a third, longer text"]
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as client:
        as_base64 = client.embeddings.create(model=model, input=texts)  # the SDK asks for base64 by default
        as_floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
    assert [d.index for d in as_base64.data] == [0, 1, 2]
    width = {len(d.embedding) for d in as_floats.data}
    assert len(width) == 1 and (dims is None or width == {dims})
    for packed, plain in zip(as_base64.data, as_floats.data, strict=True):
        assert packed.embedding == pytest.approx(plain.embedding, rel=1e-6)
    assert as_floats.data[0].embedding != as_floats.data[1].embedding
    assert as_floats.usage.prompt_tokens > 0


def test_cohere_batches_of_96_keep_input_order(gateway: GatewayProcess, upstreams: Upstreams) -> None:
    texts = [f"text number {i}" for i in range(200)]
    upstreams.cohere.clear()
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as client:
        batch = client.embeddings.create(model="cohere/embed-english-v3.0", input=texts, encoding_format="float")
        single = client.embeddings.create(model="cohere/embed-english-v3.0", input=[texts[150]],
                                          encoding_format="float")
    sent = [r.json()["texts"] for r in upstreams.cohere.requests if r.path == "/v2/embed"]
    assert sorted(len(t) for t in sent[:3]) == [8, 96, 96]
    assert len(batch.data) == 200
    assert batch.data[150].embedding == single.data[0].embedding
    assert all(r.json()["input_type"] == "search_document" for r in upstreams.cohere.requests)


def test_embedding_translation_of_dimensions_and_input_type(gateway: GatewayProcess, upstreams: Upstreams) -> None:
    upstreams.voyage.clear()
    upstreams.cohere.clear()
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as client:
        voyage = client.embeddings.create(model="voyage/voyage-3.5", input="query text", dimensions=256,
                                          extra_body={"input_type": "query"})
        cohere_answer = client.embeddings.create(model="cohere/embed-v4.0", input="q", dimensions=512,
                                                 extra_body={"input_type": "search_query"})
    assert len(_floats(voyage.data[0].embedding)) == 256
    assert upstreams.voyage.requests[-1].json() == {"input_type": "query", "model": "voyage-3.5",
                                                    "output_dimension": 256, "input": ["query text"]}
    assert len(_floats(cohere_answer.data[0].embedding)) == 512
    sent = upstreams.cohere.requests[-1].json()
    assert sent["output_dimension"] == 512 and sent["input_type"] == "search_query"


def test_token_id_inputs_are_refused_for_text_only_upstreams(gateway: GatewayProcess) -> None:
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0) as client, \
            pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="voyage/voyage-3.5", input=[[1, 2, 3]])
    assert caught.value.body["param"] == "input"  # type: ignore[index]
