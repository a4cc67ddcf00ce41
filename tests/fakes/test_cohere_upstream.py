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
import re
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


# --- chat ---------------------------------------------------------------------------------------

CHAT = "command-r7b-12-2024"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}},
    },
}
CLOCK: Any = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}}


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _system(text: str) -> list[Any]:
    return [{"role": "system", "content": text}]


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each event of a raw SSE body."""
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        events.append((name[7:], json.loads(data[6:])))
    return events


def test_chat_echoes_the_last_user_message(client: cohere.ClientV2, fake: FakeCohere) -> None:
    raw = client.with_raw_response.chat(
        model=CHAT, messages=[*_system("Be brief."), *_user("Hello there")], temperature=0.2
    )
    wire = raw.response.json()
    assert list(wire) == ["id", "message", "finish_reason", "usage"] and len(wire["id"]) == 36
    assert wire["message"] == {"role": "assistant", "content": [{"type": "text", "text": "echo: Hello there"}]}
    reply = raw.data
    assert reply.finish_reason == "COMPLETE" and reply.message.content is not None
    assert reply.message.content[0].type == "text" and reply.message.content[0].text == "echo: Hello there"
    assert reply.usage is not None and reply.usage.billed_units is not None and reply.usage.tokens is not None
    assert (reply.usage.billed_units.input_tokens, reply.usage.billed_units.output_tokens) == (4, 3)
    assert (reply.usage.tokens.input_tokens, reply.usage.tokens.output_tokens) == (13, 4)  # + the prompt template
    assert fake.requests[-1].json() == {
        "model": CHAT,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        "temperature": 0.2,
        "stream": False,
    }


def test_chat_stream_is_cohere_sse(client: cohere.ClientV2, fake: FakeCohere) -> None:
    events = list(client.chat_stream(model=CHAT, messages=_user("one two three")))
    assert [e.type for e in events] == ["message-start", "content-start"] + ["content-delta"] * 4 + [
        "content-end",
        "message-end",
    ]
    text = "".join(e.delta.message.content.text or "" for e in events if e.type == "content-delta"
                   and e.delta is not None and e.delta.message is not None and e.delta.message.content is not None)
    assert text == "echo: one two three"
    end = events[-1]
    assert end.type == "message-end" and end.delta is not None and end.delta.finish_reason == "COMPLETE"
    assert end.delta.usage is not None and end.delta.usage.billed_units is not None
    assert end.delta.usage.billed_units.output_tokens == 4
    raw = _post(fake, "/v2/chat", {"model": CHAT, "messages": _user("one two"), "stream": True})
    assert raw.headers["content-type"] == "text/event-stream" and "content-length" not in raw.headers
    wire = _sse(raw.text)
    assert [name for name, _ in wire] == [data["type"] for _, data in wire]
    assert wire[0][1]["delta"] == {
        "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    }
    assert wire[2][1] == {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "echo:"}}}}


def test_chat_tool_calls_streamed_and_not(client: cohere.ClientV2, fake: FakeCohere) -> None:
    asked = _user("Call get_weather city=Paris days=3 and the clock")
    reply = client.chat(model=CHAT, messages=asked, tools=[WEATHER, CLOCK])
    assert reply.finish_reason == "TOOL_CALL" and reply.message.content is None
    assert reply.message.tool_plan == "I will use get_weather, clock to answer this."
    calls = reply.message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls if c.function] == [
        ("get_weather", '{"city":"Paris","days":3}'),
        ("clock", "{}"),
    ]
    assert all(re.fullmatch(r"(get_weather|clock)_[a-z2-7]{12}", c.id) for c in calls)
    plan, started, arguments = "", dict[int, Any](), dict[int, str]()  # the stream, reassembled
    for event in client.chat_stream(model=CHAT, messages=asked, tools=[WEATHER, CLOCK]):
        seen: Any = event  # the SDK's events are a union whose deltas differ by type
        if seen.type == "tool-plan-delta":
            plan += seen.delta.message.tool_plan
        elif seen.type == "tool-call-start":
            started[seen.index] = seen.delta.message.tool_calls
        elif seen.type == "tool-call-delta":
            arguments[seen.index] = arguments.get(seen.index, "") + seen.delta.message.tool_calls.function.arguments
    assert plan == reply.message.tool_plan
    assert [(started[i].id, started[i].function.name, arguments[i]) for i in sorted(started)] == [
        (c.id, c.function.name if c.function else None, c.function.arguments if c.function else None) for c in calls
    ]
    results: list[Any] = [{"role": "tool", "tool_call_id": c.id, "content": "18C"} for c in calls]
    turn: Any = {"role": "assistant", "tool_plan": reply.message.tool_plan, "tool_calls": [c.dict() for c in calls]}
    answer = client.chat(model=CHAT, messages=[*asked, turn, *results], tools=[WEATHER, CLOCK])
    assert answer.message.content is not None and answer.message.content[0].type == "text"
    assert answer.message.content[0].text == "echo: 18C" and answer.finish_reason == "COMPLETE"
    required = client.chat(model=CHAT, messages=_user("Hi"), tools=[WEATHER, CLOCK], tool_choice="REQUIRED")
    assert [c.function.name for c in required.message.tool_calls or [] if c.function] == ["get_weather"]
    none = client.chat(model=CHAT, messages=_user("get_weather"), tools=[WEATHER], tool_choice="NONE")
    assert none.message.tool_calls is None and none.finish_reason == "COMPLETE"


@pytest.mark.parametrize(
    ("options", "text", "finish"),
    [
        ({"max_tokens": 2}, "echo: one", "MAX_TOKENS"),
        ({"stop_sequences": ["three", "two"]}, "echo: one ", "STOP_SEQUENCE"),
        ({"response_format": {"type": "json_object"}}, '{"echo":"one two three"}', "COMPLETE"),
    ],
)
def test_chat_max_tokens_stop_and_json(
    client: cohere.ClientV2, options: dict[str, Any], text: str, finish: str
) -> None:
    reply = client.chat(model=CHAT, messages=_user("one two three"), **options)
    assert reply.message.content is not None and reply.message.content[0].type == "text"
    assert (reply.message.content[0].text, reply.finish_reason) == (text, finish)
    streamed = list(client.chat_stream(model=CHAT, messages=_user("one two three"), **options))
    end = streamed[-1]
    assert end.type == "message-end" and end.delta is not None and end.delta.finish_reason == finish


def test_chat_images_only_for_vision_models(client: cohere.ClientV2) -> None:
    looked: Any = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": _png(2, 2), "detail": "low"}},
            ],
        }
    ]
    seen = client.chat(model="command-a-vision-07-2025", messages=looked)
    assert seen.message.content is not None and seen.message.content[0].type == "text"
    assert seen.message.content[0].text == "echo: What is this?"
    with pytest.raises(cohere.BadRequestError) as blind:
        client.chat(model=CHAT, messages=looked)
    assert blind.value.body["message"] == f"invalid request: model '{CHAT}' does not support image inputs"


REASONING = "command-a-reasoning-08-2025"


def test_chat_a_reasoning_model_thinks_first_unless_told_not_to(client: cohere.ClientV2, fake: FakeCohere) -> None:
    raw = client.with_raw_response.chat(model=REASONING, messages=_user("Hello there"))
    assert raw.response.json()["message"] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "The user said: Hello there"}, {"type": "text", "text": "echo: Hello there"}]}
    thought, said = raw.data.message.content or []
    assert isinstance(thought, cohere.ThinkingAssistantMessageResponseContentItem)
    assert isinstance(said, cohere.TextAssistantMessageResponseContentItem)
    assert (thought.thinking, said.text) == ("The user said: Hello there", "echo: Hello there")
    usage = raw.data.usage
    assert usage is not None and usage.billed_units is not None and usage.tokens is not None
    assert (usage.billed_units.output_tokens, usage.tokens.output_tokens) == (3 + 5, 3 + 5 + 1)  # thinking is output

    quiet = client.chat(model=REASONING, messages=_user("Hello there"), thinking=cohere.Thinking(type="disabled"))
    assert [c.type for c in quiet.message.content or []] == ["text"]
    assert quiet.usage is not None and quiet.usage.billed_units is not None
    assert quiet.usage.billed_units.output_tokens == 3
    assert fake.requests[-1].json()["thinking"] == {"type": "disabled"}
    budget = cohere.Thinking(type="enabled", token_budget=2)
    short = client.chat(model=REASONING, messages=_user("Hello there"), thinking=budget)
    assert [(c.type, getattr(c, c.type)) for c in short.message.content or []] == [
        ("thinking", "The user"), ("text", "echo: Hello there")]
    plain = client.chat(model=CHAT, messages=_user("Hello there"), thinking=cohere.Thinking(type="enabled"))
    assert [c.type for c in plain.message.content or []] == ["text"]  # a model that does not reason ignores it

    called = client.chat(model=REASONING, messages=_user("clock"), tools=[CLOCK])
    assert [c.type for c in called.message.content or []] == ["thinking"] and called.finish_reason == "TOOL_CALL"
    assert called.message.tool_plan == "I will use clock to answer this." and called.message.tool_calls
    history: Any = [*_user("Hello there"), {"role": "assistant", "content": [
        c.dict() for c in raw.data.message.content or []]}, *_user("and again")]
    again = client.chat(model=REASONING, messages=history)
    assert [c.type for c in again.message.content or []] == ["thinking", "text"]


def test_chat_a_reasoning_model_streams_its_thinking_first(client: cohere.ClientV2) -> None:
    events = list(client.chat_stream(model=REASONING, messages=_user("one two")))
    assert [(e.type, getattr(e, "index", None)) for e in events] == [
        ("message-start", None),
        ("content-start", 0), *[("content-delta", 0)] * 5, ("content-end", 0),
        ("content-start", 1), *[("content-delta", 1)] * 3, ("content-end", 1),
        ("message-end", None),
    ]
    starts = [e for e in events if isinstance(e, cohere.ContentStartV2ChatStreamResponse)]
    kinds = [e.delta.message.content.type if e.delta and e.delta.message and e.delta.message.content else None
             for e in starts]
    assert kinds == ["thinking", "text"]
    deltas = [e.delta.message.content for e in events if isinstance(e, cohere.ContentDeltaV2ChatStreamResponse)
              and e.delta is not None and e.delta.message is not None and e.delta.message.content is not None]
    assert all(isinstance(d, cohere.ChatContentDeltaEventDeltaMessageContent) for d in deltas)
    assert "".join(d.thinking or "" for d in deltas[:5]) == "The user said: one two"
    assert all(d.text is None for d in deltas[:5]) and all(d.thinking is None for d in deltas[5:])
    assert "".join(d.text or "" for d in deltas[5:]) == "echo: one two"
    end = events[-1]
    assert end.type == "message-end" and end.delta is not None and end.delta.usage is not None
    assert end.delta.usage.billed_units is not None and end.delta.usage.billed_units.output_tokens == 3 + 5
    called = list(client.chat_stream(model=REASONING, messages=_user("clock"), tools=[CLOCK],
                                     thinking=cohere.Thinking(type="enabled", token_budget=1)))
    assert [e.type for e in called][:5] == ["message-start", "content-start", "content-delta", "content-end",
                                            "tool-plan-delta"]
    quiet = list(client.chat_stream(model=REASONING, messages=_user("one two"),
                                    thinking=cohere.Thinking(type="disabled")))
    assert [getattr(e, "index", None) for e in quiet if e.type.startswith("content")] == [0] * 5


@pytest.mark.parametrize(
    ("thinking", "status", "message"),
    [
        ({"type": "on"}, 400, "invalid request: thinking.type must be one of 'enabled' or 'disabled'"),
        ({"token_budget": 5}, 400, "invalid request: thinking.type must be one of 'enabled' or 'disabled'"),
        ({"type": "enabled", "token_budget": 0}, 400, "invalid request: token_budget must be a positive integer, "
                                                      "received 0"),
        ({"type": "enabled", "budget_tokens": 5}, 422, "unknown field: parameter 'budget_tokens' is not a valid "
                                                       "field. For proper usage, please refer to "
                                                       "https://docs.cohere.com/reference/chat"),
    ],
)
def test_chat_rejects_bad_thinking(fake: FakeCohere, thinking: dict[str, Any], status: int, message: str) -> None:
    body = {"model": REASONING, "messages": _user("Hi"), "thinking": thinking}
    assert _error(_post(fake, "/v2/chat", body), status) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"temperature": 1.5}, "invalid request: temperature must be between 0 and 1.0 inclusive."),
        ({"p": 1.0}, "invalid request: p must be between 0.01 and 0.99 inclusive."),
        ({"tool_choice": "REQUIRED"}, "invalid request: tool_choice REQUIRED needs tools to be specified"),
        ({"messages": []}, "invalid request: messages must be a non-empty array"),
        ({"stop_sequences": list("abcdef")}, "invalid request: stop_sequences must be an array of at most 5 strings"),
        (
            {"messages": [{"role": "tool", "tool_call_id": "x", "content": "1"}]},
            "invalid request: messages[0].tool_call_id must be the id of an earlier tool call",
        ),
        ({"messages": [{"role": "assistant", "content": ""}]}, "message must not be empty in a turn"),
    ],
)
def test_chat_rejects_bad_requests(fake: FakeCohere, body: dict[str, Any], message: str) -> None:
    assert _error(_post(fake, "/v2/chat", {"model": CHAT, "messages": _user("Hi"), **body}), 400) == message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"top_p": 0.5}, "top_p"),
        ({"tools": [{**CLOCK, "function": {**CLOCK["function"], "strict": True}}]}, "strict"),
        ({"messages": [{"role": "user", "content": "Hi", "name": "ann"}]}, "name"),
    ],
)
def test_chat_unknown_fields_are_422_at_any_depth(client: cohere.ClientV2, fake: FakeCohere, body: dict[str, Any],
                                                  field: str) -> None:
    message = _error(_post(fake, "/v2/chat", {"model": CHAT, "messages": _user("Hi"), **body}), 422)
    assert message == (f"unknown field: parameter '{field}' is not a valid field. For proper usage, please refer to "
                       "https://docs.cohere.com/reference/chat")
    with pytest.raises(cohere.UnprocessableEntityError):
        client.chat(model=CHAT, messages=_user("Hi"), request_options={"additional_body_parameters": {"top_p": 1}})


def test_chat_prompt_over_the_context_is_too_many_tokens(client: cohere.ClientV2) -> None:
    with pytest.raises(cohere.BadRequestError) as caught:
        client.chat(model="c4ai-aya-expanse-8b", messages=_user("word " * 8200))
    assert caught.value.body["message"].startswith(
        "too many tokens: total number of tokens in the prompt cannot exceed 8192 - received 8206."
    )


def test_chat_faults(client: cohere.ClientV2, fake: FakeCohere) -> None:
    failed = client.chat(model="fault-error", messages=_user("a b c"))
    assert failed.finish_reason == "ERROR"
    events = list(client.chat_stream(model="fault-error", messages=_user("a b c")))
    assert [e.type for e in events] == ["message-start", "content-start", "content-delta", "content-delta",
                                        "message-end"]
    end = events[-1]
    assert end.type == "message-end" and end.delta is not None
    assert (end.delta.finish_reason, end.delta.error) == (
        "ERROR",
        "internal server error, this has been reported to our developers",
    )
    cut: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        cut.extend(e.type for e in client.chat_stream(model="fault-cut-3", messages=_user("a b c")))
    assert cut == ["message-start", "content-start", "content-delta"]
    with pytest.raises(cohere.TooManyRequestsError) as limited:
        client.chat(model="fault-status-429", messages=_user("Hi"))
    assert limited.value.headers is not None and "retry-after" not in limited.value.headers
    fake.retry_after = "3"
    with pytest.raises(cohere.TooManyRequestsError) as told:
        client.chat_stream(model="fault-status-429", messages=_user("Hi")).__next__()
    assert told.value.headers is not None and told.value.headers["retry-after"] == "3"


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
    assert _error(_post(fake, "/v1/chat", {"model": "command-a-03-2025"}), 404) == "404 page not found"
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


async def test_async_chat_and_stream(aclient: cohere.AsyncClientV2, fake: FakeCohere) -> None:
    reply = await aclient.chat(model=CHAT, messages=_user("Hi async"), tools=[CLOCK])
    assert reply.message.content is not None and reply.message.content[0].type == "text"
    assert reply.message.content[0].text == "echo: Hi async"
    texts: list[str] = []
    async for event in aclient.chat_stream(model=CHAT, messages=_user("Hi async")):
        if event.type == "content-delta" and event.delta and event.delta.message and event.delta.message.content:
            texts.append(event.delta.message.content.text or "")
    assert "".join(texts) == "echo: Hi async"
    called = [e async for e in aclient.chat_stream(model=CHAT, messages=_user("clock"), tools=[CLOCK])]
    assert [e.type for e in called if e.type.startswith("tool-call")] == ["tool-call-start", "tool-call-delta",
                                                                         "tool-call-end"]
    assert [r.json()["stream"] for r in fake.requests] == [False, True, True]


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
