"""Proves `FakeGemini` faithful: the official `google-genai` SDK (sync and async) must parse all it sends.

The SDK parses leniently (pydantic models that ignore unknown fields), so the tests also read the raw wire
objects with httpx: field names, SSE framing, error envelopes. The SDK does not retry unless
`HttpOptions.retry_options` is set, so the 429/5xx tests see exactly one request each. google-genai 3.x talks
to `/v1` by default (the raw tests use `/v1beta`, the version Google documents), sends with `httpx2` (an httpx
fork, whose errors are not httpx's) when it is installed, and with aiohttp from its async client.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import httpx2
import pydantic
import pytest
import pytest_asyncio
from google import genai
from google.genai import errors, types

from tests.fakes.gemini_upstream import MODELS, FakeGemini

FLASH = "gemini-2.5-flash"
FLASH_2 = "gemini-2.0-flash"  # no thinking: usage without thoughts
PROMPT = "hello there my friend how are you today"
REPLY = "echo: " + PROMPT
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)  # the SDK would otherwise call Python tools itself
DROPPED = (httpx.RemoteProtocolError, httpx2.RemoteProtocolError)  # a connection closed mid-body
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sIIBBBBB", 13, b"IHDR", 2, 2, 8, 6, 0, 0, 0)


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


def get_time(city: str) -> str:
    """Local time in a city."""
    return f"noon in {city}"


class Forecast(pydantic.BaseModel):
    city: str
    days: int
    rain: bool


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeGemini) -> None:
    fake.clear()


def _options(fake: FakeGemini, **extra: Any) -> types.HttpOptions:
    return types.HttpOptions(base_url=fake.base_url, **extra)


@pytest.fixture
def client(fake: FakeGemini) -> Iterator[genai.Client]:
    with genai.Client(api_key=fake.api_key, http_options=_options(fake)) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeGemini) -> AsyncIterator[genai.client.AsyncClient]:
    sdk = genai.Client(api_key=fake.api_key, http_options=_options(fake))
    async with sdk.aio as aio:
        yield aio
    sdk.close()


def _post(fake: FakeGemini, path: str, body: Any, key: str | None = None, query: str = "") -> httpx.Response:
    headers = {"x-goog-api-key": key if key is not None else fake.api_key or ""}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as http:
        return http.post(f"{fake.base_url}/v1beta/{path}{query}", content=content, headers=headers)


def _get(fake: FakeGemini, path: str, query: str = "") -> httpx.Response:
    with httpx.Client() as http:
        return http.get(f"{fake.base_url}/v1beta/{path}{query}", headers={"x-goog-api-key": fake.api_key or ""})


def _error(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    """The `error` object of a Google error envelope, checking its shape on the way."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.text.startswith('{\n  "error": {\n    "code": ')  # pretty-printed, like Google's
    body = response.json()
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert error["code"] == status and error["status"] == name
    return error


def _text(*texts: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": t} for t in texts]}]}


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


# --- generateContent ----------------------------------------------------------------------------


def test_generate_text(client: genai.Client, fake: FakeGemini) -> None:
    response = client.models.generate_content(model=FLASH, contents=PROMPT)
    assert response.text == REPLY
    (candidate,) = response.candidates or []
    assert candidate.finish_reason == types.FinishReason.STOP and candidate.index == 0
    assert candidate.content is not None and candidate.content.role == "model"
    assert candidate.safety_ratings is None
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count) == (8, 9, 32)
    assert usage.total_token_count == 8 + 9 + 32
    assert usage.prompt_tokens_details == [types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=8)]
    assert response.model_version == FLASH
    assert response.response_id is not None and len(response.response_id) == 23
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", f"/v1/models/{FLASH}:generateContent")
    assert recorded.headers["x-goog-api-key"] == fake.api_key
    assert recorded.headers["x-goog-api-client"].startswith("google-genai-sdk/")
    assert recorded.json()["contents"] == [{"parts": [{"text": PROMPT}], "role": "user"}]


def test_generate_raw_wire_object(fake: FakeGemini) -> None:
    response = _post(fake, f"models/{FLASH_2}:generateContent", _text("hi ", "there"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert list(body) == ["candidates", "usageMetadata", "modelVersion", "responseId"]
    assert body["candidates"] == [
        {"content": {"parts": [{"text": "echo: hi there"}], "role": "model"}, "finishReason": "STOP", "index": 0}
    ]
    assert body["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 3,
        "totalTokenCount": 5,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}],
    }
    assert body["modelVersion"] == FLASH_2


def test_system_instruction_counts_in_the_prompt(client: genai.Client, fake: FakeGemini) -> None:
    config = types.GenerateContentConfig(system_instruction="You are a terse assistant.")
    response = client.models.generate_content(model=FLASH_2, contents="hi", config=config)
    assert response.text == "echo: hi"
    assert response.usage_metadata is not None and response.usage_metadata.prompt_token_count == 1 + 5
    sent = fake.requests[-1].json()
    assert sent["systemInstruction"] == {"parts": [{"text": "You are a terse assistant."}], "role": "user"}


def test_max_output_tokens_truncates_by_words(client: genai.Client) -> None:
    config = types.GenerateContentConfig(max_output_tokens=3)
    response = client.models.generate_content(model=FLASH_2, contents=PROMPT, config=config)
    assert response.text == "echo: hello there"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.usage_metadata is not None and response.usage_metadata.candidates_token_count == 3


def test_stop_sequences_cut_the_text(client: genai.Client) -> None:
    config = types.GenerateContentConfig(stop_sequences=[" friend", "zzz"])
    response = client.models.generate_content(model=FLASH_2, contents=PROMPT, config=config)
    assert response.text == "echo: hello there my"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP


def test_candidate_count(client: genai.Client) -> None:
    config = types.GenerateContentConfig(candidate_count=2)
    response = client.models.generate_content(model=FLASH_2, contents="two of these", config=config)
    candidates = response.candidates or []
    assert [c.index for c in candidates] == [0, 1]
    assert all(c.content and c.content.parts and c.content.parts[0].text == "echo: two of these" for c in candidates)
    assert response.usage_metadata is not None and response.usage_metadata.candidates_token_count == 2 * 4


def test_json_mode_with_a_pydantic_schema(client: genai.Client, fake: FakeGemini) -> None:
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Forecast)
    response = client.models.generate_content(model=FLASH, contents="Forecast for city=Oslo days=3", config=config)
    assert response.parsed == Forecast(city="Oslo", days=3, rain=True)
    assert json.loads(response.text or "") == {"city": "Oslo", "days": 3, "rain": True}
    schema = fake.requests[-1].json()["generationConfig"]["responseSchema"]
    assert schema["type"] == "OBJECT" and schema["property_ordering"] == ["city", "days", "rain"]


def test_json_mode_with_a_json_schema_and_enum_mode(client: genai.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                       "mood": {"type": "string", "enum": ["calm", "angry"]}, "score": {"type": "number"}},
    }
    config = types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    response = client.models.generate_content(model=FLASH_2, contents="tag it", config=config)
    assert json.loads(response.text or "") == {"tags": ["example", "example"], "mood": "calm", "score": 1.5}
    plain = types.GenerateContentConfig(response_mime_type="application/json")
    free = client.models.generate_content(model=FLASH_2, contents="hi", config=plain)
    assert json.loads(free.text or "") == {"echo": "echo: hi"}
    enum = types.GenerateContentConfig(
        response_mime_type="text/x.enum", response_schema={"type": "STRING", "enum": ["positive", "negative"]}
    )
    assert client.models.generate_content(model=FLASH_2, contents="rate", config=enum).text == "positive"


def test_parallel_function_calls(client: genai.Client, fake: FakeGemini) -> None:
    config = types.GenerateContentConfig(tools=[get_weather, get_time], automatic_function_calling=NO_AFC)
    contents = "call get_time and get_weather with city=Paris unit=fahrenheit"
    response = client.models.generate_content(model=FLASH, contents=contents, config=config)
    calls = response.function_calls or []
    assert [(c.name, c.args) for c in calls] == [
        ("get_weather", {"city": "Paris", "unit": "fahrenheit"}),
        ("get_time", {"city": "Paris"}),
    ]
    (candidate,) = response.candidates or []
    assert candidate.finish_reason == types.FinishReason.STOP  # Gemini has no "tool calls" finish reason
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    assert parts[0].thought_signature and not parts[1].thought_signature  # a thinking model signs the first
    spent = sum(len(json.dumps({"functionCall": {"name": c.name, "args": c.args}}).split()) for c in calls)
    assert response.usage_metadata is not None and response.usage_metadata.candidates_token_count == spent == 8 + 6
    declared = fake.requests[-1].json()["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declared] == ["get_weather", "get_time"]


@pytest.mark.parametrize(
    ("mode", "allowed", "contents", "called"),
    [
        ("AUTO", None, "what is the weather", []),
        ("ANY", None, "what is the weather", ["get_weather"]),
        ("ANY", ["get_time"], "what is the weather", ["get_time"]),
        ("NONE", None, "get_weather please", []),
    ],
)
def test_function_calling_modes(
    client: genai.Client, mode: str, allowed: list[str] | None, contents: str, called: list[str]
) -> None:
    calling = types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode(mode), allowed_function_names=allowed)
    config = types.GenerateContentConfig(
        tools=[get_weather, get_time], automatic_function_calling=NO_AFC,
        tool_config=types.ToolConfig(function_calling_config=calling),
    )
    response = client.models.generate_content(model=FLASH_2, contents=contents, config=config)
    assert [c.name for c in response.function_calls or []] == called
    if not called:
        assert response.text == "echo: " + contents


def test_function_response_round_trip(client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=NO_AFC)
    question = types.Content(role="user", parts=[types.Part.from_text(text="get_weather city=Rome")])
    first = client.models.generate_content(model=FLASH, contents=[question], config=config)
    call = (first.function_calls or [])[0]
    assert first.candidates and first.candidates[0].content
    answer = types.Part.from_function_response(name="get_weather", response={"output": "sunny, 24C"})
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[answer])]
    final = client.models.generate_content(model=FLASH, contents=history, config=config)
    assert call.args == {"city": "Rome", "unit": "celsius"}
    assert final.text == 'results: get_weather returned {"output": "sunny, 24C"}'
    assert final.function_calls is None


def test_image_inline_data(client: genai.Client, fake: FakeGemini) -> None:
    contents: list[types.PartUnionDict] = ["What is this?", types.Part.from_bytes(data=PNG, mime_type="image/png")]
    response = client.models.generate_content(model=FLASH_2, contents=contents)
    assert response.text == "echo: What is this? [images: 1]"
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_token_count == 3 + 258
    assert [(d.modality, d.token_count) for d in usage.prompt_tokens_details or []] == [
        (types.MediaModality.TEXT, 3),
        (types.MediaModality.IMAGE, 258),
    ]
    part = fake.requests[-1].json()["contents"][0]["parts"][1]
    assert part == {"inlineData": {"data": base64.b64encode(PNG).decode(), "mime_type": "image/png"}}


# --- thinking and safety ------------------------------------------------------------------------


def test_thinking_budget_and_thought_summaries(client: genai.Client) -> None:
    def thoughts(model: str, config: types.ThinkingConfig | None = None) -> int | None:
        response = client.models.generate_content(
            model=model, contents="hi", config=types.GenerateContentConfig(thinking_config=config)
        )
        return response.usage_metadata.thoughts_token_count if response.usage_metadata else -1

    assert thoughts("gemini-2.5-pro") == 32
    assert thoughts(FLASH, types.ThinkingConfig(thinking_budget=0)) is None
    assert thoughts(FLASH, types.ThinkingConfig(thinking_budget=10)) == 10
    assert thoughts("gemini-2.5-flash-lite") is None
    assert thoughts("gemini-2.5-flash-lite", types.ThinkingConfig(thinking_budget=-1)) == 32
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    response = client.models.generate_content(model=FLASH, contents="hi", config=config)
    parts = response.candidates[0].content.parts if response.candidates and response.candidates[0].content else []
    assert parts and parts[0].thought is True and "hi" in (parts[0].text or "")
    assert response.text == "echo: hi"  # the SDK leaves thought parts out of .text
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(
            model="gemini-2.5-pro", contents="hi",
            config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0)),
        )
    assert caught.value.message == "Budget 0 is invalid. This model only works in thinking mode."


def test_safety_blocks_the_candidate(client: genai.Client) -> None:
    response = client.models.generate_content(model=FLASH, contents="tell me something unsafe")
    (candidate,) = response.candidates or []
    assert candidate.finish_reason == types.FinishReason.SAFETY and candidate.content is None
    ratings = {r.category: (r.probability, r.blocked) for r in candidate.safety_ratings or []}
    assert ratings[types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT] == (types.HarmProbability.HIGH, True)
    assert ratings[types.HarmCategory.HARM_CATEGORY_HARASSMENT] == (types.HarmProbability.NEGLIGIBLE, None)
    assert response.text is None
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count is None and usage.thoughts_token_count is None
    setting = types.SafetySetting(
        category=types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, threshold=types.HarmBlockThreshold.BLOCK_NONE
    )
    allowed = types.GenerateContentConfig(safety_settings=[setting])
    unblocked = client.models.generate_content(model=FLASH, contents="something unsafe", config=allowed)
    assert unblocked.text == "echo: something unsafe"


def test_safety_blocks_the_prompt(client: genai.Client, fake: FakeGemini) -> None:
    response = client.models.generate_content(model=FLASH, contents="a jailbreak attempt")
    assert response.candidates is None and response.text is None
    assert response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert response.usage_metadata is not None and response.usage_metadata.total_token_count == 3
    chunks = list(client.models.generate_content_stream(model=FLASH, contents="a jailbreak attempt"))
    assert len(chunks) == 1 and chunks[0].prompt_feedback is not None
    body = _post(fake, f"models/{FLASH}:generateContent", _text("jailbreak")).json()
    assert list(body) == ["promptFeedback", "usageMetadata", "modelVersion", "responseId"]


# --- streaming ----------------------------------------------------------------------------------


def test_stream_joins_to_the_non_streamed_text(client: genai.Client, fake: FakeGemini) -> None:
    whole = client.models.generate_content(model=FLASH, contents=PROMPT)
    chunks = list(client.models.generate_content_stream(model=FLASH, contents=PROMPT))
    assert len(chunks) == 3
    assert "".join(c.text or "" for c in chunks) == whole.text == REPLY
    finishes = [c.candidates[0].finish_reason if c.candidates else None for c in chunks]
    assert finishes == [None, None, types.FinishReason.STOP]
    assert len({c.response_id for c in chunks}) == 1
    counts = [c.usage_metadata.candidates_token_count if c.usage_metadata else 0 for c in chunks]
    assert counts == [4, 8, 9]
    assert chunks[-1].usage_metadata == whole.usage_metadata
    assert fake.requests[-1].path == f"/v1/models/{FLASH}:streamGenerateContent"
    assert fake.requests[-1].query == "alt=sse"


def test_stream_function_calls_arrive_whole(client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=[get_weather, get_time], automatic_function_calling=NO_AFC,
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )
    chunks = list(client.models.generate_content_stream(model=FLASH, contents="get_weather get_time", config=config))
    assert len(chunks) == 2  # the thought summary, then both calls in one chunk
    assert chunks[0].function_calls is None
    assert [c.name for c in chunks[1].function_calls or []] == ["get_weather", "get_time"]
    assert chunks[1].candidates and chunks[1].candidates[0].finish_reason == types.FinishReason.STOP


def test_sse_framing(fake: FakeGemini) -> None:
    response = _post(fake, f"models/{FLASH_2}:streamGenerateContent", _text(PROMPT), query="?alt=sse")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert "content-length" not in response.headers
    assert response.text.endswith("\r\n\r\n")
    events = response.text.split("\r\n\r\n")[:-1]
    assert len(events) == 3 and all(e.startswith("data: ") and "\n" not in e for e in events)
    decoded = [json.loads(e.removeprefix("data: ")) for e in events]
    assert "".join(d["candidates"][0]["content"]["parts"][0]["text"] for d in decoded) == REPLY
    assert [list(d) for d in decoded] == [["candidates", "usageMetadata", "modelVersion", "responseId"]] * 3
    assert [d["candidates"][0].get("finishReason") for d in decoded] == [None, None, "STOP"]


def test_stream_without_alt_sse_is_a_json_array(fake: FakeGemini) -> None:
    response = _post(fake, f"models/{FLASH_2}:streamGenerateContent", _text(PROMPT))
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    chunks = response.json()
    assert isinstance(chunks, list) and len(chunks) == 3
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == REPLY


# aiohttp warns when a class inherits ClientSession, and the SDK's async client does (first use only).
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning")
async def test_async_client_streams(aclient: genai.client.AsyncClient) -> None:
    stream = await aclient.models.generate_content_stream(model=FLASH_2, contents=PROMPT)
    texts = [chunk.text async for chunk in stream]
    assert len(texts) == 3 and "".join(t or "" for t in texts) == REPLY
    response = await aclient.models.generate_content(model=FLASH_2, contents="async hi")
    assert response.text == "echo: async hi"


# --- embeddings, tokens, models -----------------------------------------------------------------


def test_batch_embeddings(client: genai.Client, fake: FakeGemini) -> None:
    texts: list[types.PartUnion] = ["alpha beta", "gamma", "alpha beta"]
    response = client.models.embed_content(model="gemini-embedding-001", contents=texts)
    vectors = [e.values or [] for e in response.embeddings or []]
    assert [len(v) for v in vectors] == [3072] * 3
    assert all(math.isclose(_norm(v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    (recorded,) = fake.requests
    assert recorded.path == "/v1/models/gemini-embedding-001:batchEmbedContents"
    assert recorded.json()["requests"][1] == {
        "content": {"parts": [{"text": "gamma"}], "role": "user"}, "model": "models/gemini-embedding-001"
    }
    config = types.EmbedContentConfig(output_dimensionality=768)
    short = client.models.embed_content(model="gemini-embedding-001", contents=texts[:1], config=config)
    (vector,) = [e.values or [] for e in short.embeddings or []]
    assert vector == vectors[0][:768]  # a truncated gemini-embedding-001 vector is not re-normalised
    assert _norm(vector) < 0.9


def test_embedding_task_type_and_text_embedding_004(client: genai.Client) -> None:
    def embed(model: str, task: str | None = None) -> list[float]:
        config = types.EmbedContentConfig(task_type=task)
        response = client.models.embed_content(model=model, contents="same text", config=config)
        return (response.embeddings or [])[0].values or []

    query = embed("gemini-embedding-001", "RETRIEVAL_QUERY")
    assert query != embed("gemini-embedding-001", "RETRIEVAL_DOCUMENT")
    assert query == embed("gemini-embedding-001", "RETRIEVAL_QUERY")
    assert len(embed("text-embedding-004")) == 768
    with pytest.raises(errors.ClientError) as caught:
        embed("gemini-embedding-001", "SEARCHING")
    assert caught.value.code == 400 and "TaskType" in (caught.value.message or "")


def test_embed_content_route_and_batch_checks(fake: FakeGemini) -> None:
    response = _post(fake, "models/text-embedding-004:embedContent", {"content": {"parts": [{"text": "x"}]}})
    assert list(response.json()) == ["embedding"] and len(response.json()["embedding"]["values"]) == 768
    bad_model = {"requests": [{"model": "text-embedding-004", "content": {"parts": [{"text": "x"}]}}]}
    error = _error(_post(fake, "models/text-embedding-004:batchEmbedContents", bad_model), 400, "INVALID_ARGUMENT")
    assert error["message"] == "* BatchEmbedContentsRequest.requests[0].model: unexpected model name format\n"
    too_many = {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "x"}]}}] * 101}
    error = _error(_post(fake, "models/text-embedding-004:batchEmbedContents", too_many), 400, "INVALID_ARGUMENT")
    assert "at most 100 requests" in error["message"]


def test_count_tokens(client: genai.Client, fake: FakeGemini) -> None:
    counted = client.models.count_tokens(model=FLASH, contents=PROMPT)
    assert counted.total_tokens == 8
    assert fake.requests[-1].json() == {"contents": [{"parts": [{"text": PROMPT}], "role": "user"}]}
    request = {"model": f"models/{FLASH}", "systemInstruction": {"parts": [{"text": "be brief"}]}} | _text("hi")
    body = _post(fake, f"models/{FLASH}:countTokens", {"generateContentRequest": request}).json()
    assert body == {"totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}


def test_models_list_and_get(client: genai.Client, fake: FakeGemini) -> None:
    listed = list(client.models.list(config={"page_size": 4}))
    assert [m.name for m in listed] == [f"models/{m.name}" for m in MODELS]
    first, second = (r.query for r in fake.requests)  # the SDK's pager follows nextPageToken
    assert first == "pageSize=4" and second.startswith("pageSize=4&pageToken=")
    flash = client.models.get(model=FLASH)
    assert flash.display_name == "Gemini 2.5 Flash" and flash.input_token_limit == 1048576
    assert flash.supported_actions == ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
    assert flash.thinking is True and flash.top_k == 64 and flash.max_temperature == 2
    embedder = client.models.get(model="models/gemini-embedding-001")
    assert embedder.output_token_limit == 1 and embedder.temperature is None
    with pytest.raises(errors.ClientError) as caught:
        client.models.get(model="gemini-1.0-pro")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message == "Model is not found: models/gemini-1.0-pro for api version v1"


def test_models_page_tokens(fake: FakeGemini) -> None:
    first = _get(fake, "models", "?pageSize=5").json()
    assert len(first["models"]) == 5 and "nextPageToken" in first
    rest = _get(fake, "models", f"?pageSize=5&pageToken={first['nextPageToken']}").json()
    assert [m["name"] for m in rest["models"]] == ["models/text-embedding-004"] and "nextPageToken" not in rest
    assert list(rest["models"][0]) == [
        "name", "version", "displayName", "description", "inputTokenLimit", "outputTokenLimit",
        "supportedGenerationMethods",
    ]
    _error(_get(fake, "models", "?pageToken=nonsense"), 400, "INVALID_ARGUMENT")


# --- errors -------------------------------------------------------------------------------------


def test_missing_and_invalid_api_key(fake: FakeGemini) -> None:
    error = _error(_post(fake, f"models/{FLASH}:generateContent", _text("hi"), key=""), 403, "PERMISSION_DENIED")
    assert error["message"].startswith("Method doesn't allow unregistered callers")
    wrong = genai.Client(api_key="wrong", http_options=_options(fake))
    with wrong, pytest.raises(errors.ClientError) as caught:
        wrong.models.generate_content(model=FLASH, contents="hi")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert caught.value.message == "API key not valid. Please pass a valid API key."
    details = caught.value.details["error"]["details"]
    assert details[0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert details[0]["reason"] == "API_KEY_INVALID"
    by_query = _post(fake, f"models/{FLASH}:generateContent", _text("hi"), key="", query=f"?key={fake.api_key}")
    assert by_query.status_code == 200


@pytest.mark.parametrize(
    ("status", "name", "kind", "message"),
    [
        (400, "INVALID_ARGUMENT", errors.ClientError, "Request contains an invalid argument."),
        (429, "RESOURCE_EXHAUSTED", errors.ClientError, "You exceeded your current quota"),
        (500, "INTERNAL", errors.ServerError, "An internal error has occurred."),
        (503, "UNAVAILABLE", errors.ServerError, "The model is overloaded. Please try again later."),
    ],
)
def test_fault_statuses(
    client: genai.Client, fake: FakeGemini, status: int, name: str, kind: type[errors.APIError], message: str
) -> None:
    with pytest.raises(kind) as caught:
        client.models.generate_content(model=f"fault-status-{status}", contents="hi")
    assert (caught.value.code, caught.value.status) == (status, name)
    assert (caught.value.message or "").startswith(message)
    assert len(fake.requests) == 1  # no retries unless HttpOptions.retry_options asks for them
    assert "retry-after" not in caught.value.response.headers  # Google sends RetryInfo in the body instead


def test_rate_limit_details(fake: FakeGemini) -> None:
    error = _error(_post(fake, "models/fault-status-429:generateContent", _text("hi")), 429, "RESOURCE_EXHAUSTED")
    kinds = [d["@type"].rpartition(".")[2] for d in error["details"]]
    assert kinds == ["Help", "QuotaFailure", "RetryInfo"]
    assert error["details"][2]["retryDelay"] == "26s"


def test_unknown_and_unsupported_models(client: genai.Client, fake: FakeGemini) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gpt-4o", contents="hi")
    assert caught.value.code == 404 and caught.value.message == (
        "models/gpt-4o is not found for API version v1, or is not supported for generateContent. Call ListModels "
        "to see the list of available models and their supported methods."
    )
    with pytest.raises(errors.ClientError) as caught:
        client.models.embed_content(model=FLASH, contents="hi")
    assert "not supported for embedContent" in (caught.value.message or "")
    error = _error(_post(fake, "models/text-embedding-004:generateContent", _text("hi")), 404, "NOT_FOUND")
    assert error["message"].startswith("models/text-embedding-004 is not found for API version v1beta")
    assert client.models.generate_content(model="gemini-3-pro-preview", contents="hi").text == "echo: hi"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": []}, "* GenerateContentRequest.contents: contents is not specified\n"),
        ({"contents": [{"role": "user", "parts": []}]},
         "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"),
        ({"contents": [{"parts": [{"thought": True}]}]},
         "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have one initialized "
         "field\n"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
        (_text("x") | {"temprature": 1},
         'Invalid JSON payload received. Unknown name "temprature": Cannot find field.'),
        (_text("x") | {"generationConfig": {"max_tokens": 5}},
         "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field."),
        (_text("x") | {"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "NEVER"}]},
         "Invalid value at 'safety_settings[0].threshold' "
         '(type.googleapis.com/google.ai.generativelanguage.v1beta.HarmBlockThreshold), "NEVER"'),
        ({"contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": "%%%"}}]}]},
         "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), \"Base64 decoding failed for %%%\""),
    ],
)
def test_validation_errors(fake: FakeGemini, body: dict[str, Any], message: str) -> None:
    error = _error(_post(fake, f"models/{FLASH}:generateContent", body), 400, "INVALID_ARGUMENT")
    assert error["message"] == message
    if message.startswith(("Invalid JSON", "Invalid value")):
        (detail,) = error["details"]
        assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
        assert detail["fieldViolations"][0]["description"] == message


def test_snake_case_fields_are_accepted(fake: FakeGemini) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "a b c d"}]}],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "generation_config": {"max_output_tokens": 2, "stop_sequences": ["zz"]},
    }
    candidate = _post(fake, f"models/{FLASH_2}:generateContent", body).json()["candidates"][0]
    assert candidate["content"]["parts"] == [{"text": "echo: a"}] and candidate["finishReason"] == "MAX_TOKENS"


def test_unknown_path_is_googles_html_404(fake: FakeGemini) -> None:
    with httpx.Client() as http:
        response = http.post(f"{fake.base_url}/v2/models/{FLASH}:generateContent", content=b"{}")
    assert response.status_code == 404 and response.headers["content-type"] == "text/html; charset=UTF-8"
    assert "The requested URL <code>/v2/models/" in response.text


def test_fault_context(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="fault-context", contents="one two three")
    assert caught.value.message == (
        "The input token count (1048579) exceeds the maximum number of tokens allowed (1048576)."
    )


def test_fault_stall_then_answers(client: genai.Client) -> None:
    started = time.monotonic()
    response = client.models.generate_content(model="fault-stall-0.3", contents="slow")
    assert time.monotonic() - started >= 0.3 and response.text == "echo: slow"


def test_fault_stall_sees_the_client_leave(fake: FakeGemini) -> None:
    impatient = genai.Client(api_key=fake.api_key, http_options=_options(fake, timeout=200))  # milliseconds
    with impatient, pytest.raises((httpx.TimeoutException, httpx2.TimeoutException)):
        impatient.models.generate_content(model="fault-stall-5", contents="hi")
    assert fake.wait_for_disconnect()


def test_fault_garbage(client: genai.Client, fake: FakeGemini) -> None:
    with pytest.raises(json.JSONDecodeError):
        client.models.generate_content(model="fault-garbage", contents="hi")
    response = _post(fake, "models/fault-garbage:streamGenerateContent", _text("hi"), query="?alt=sse")
    assert response.text == "data: <html>502 Bad Gateway</html>\r\n\r\n"


def test_fault_cut(client: genai.Client, fake: FakeGemini) -> None:
    received: list[str] = []
    with pytest.raises(DROPPED):
        for chunk in client.models.generate_content_stream(model="fault-cut-2", contents=PROMPT):
            received.append(chunk.text or "")
    assert received == ["echo: hello there my ", "friend how are you "]
    with pytest.raises(DROPPED):
        client.models.generate_content(model="fault-cut-1", contents="hi")
