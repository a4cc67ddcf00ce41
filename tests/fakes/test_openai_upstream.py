"""Proves `FakeOpenAI` faithful: the official `openai` SDK (sync and async) must parse all it sends.

Wire objects are additionally validated strictly with the SDK's own pydantic models (the SDK itself
parses leniently), and the fault models are checked against what the SDK and raw httpx really do.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio
from openai.types import Completion, CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.openai_wire import SLOW_REPLY

MODEL = "gpt-4o-mini"
MESSAGES: list[Any] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello there friend"},
]
REPLY = "echo: hello there friend"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"echo": {"type": "string"}},
                "required": ["echo"],
                "additionalProperties": False,
            },
        },
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


def _post(fake: FakeOpenAI, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key or fake.api_key}"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as http:
        return http.post(fake.base_url + path, content=content, headers=headers)


def _sse_data(response: httpx.Response) -> list[str]:
    """`data:` payloads of an SSE body, checking the `data: ...\\n\\n` framing on the way."""
    assert response.text.endswith("data: [DONE]\n\n")
    events = response.text.split("\n\n")
    assert events.pop() == ""
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    return [event.removeprefix("data: ") for event in events]


def _calls(message: Any) -> list[tuple[str, str, str]]:
    return [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls]


# --- chat completions ---------------------------------------------------------------------------


def test_chat_completion_object(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"].startswith("req_")
    ChatCompletion.model_validate(raw.http_response.json(), strict=True)
    completion = raw.parse()
    assert completion._request_id == raw.headers["x-request-id"]
    assert completion.id.startswith("chatcmpl-")
    assert (completion.object, completion.model, completion.service_tier) == (
        "chat.completion",
        MODEL,
        "default",
    )
    assert completion.system_fingerprint and completion.created > 0
    (choice,) = completion.choices
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    message = choice.message
    assert (message.role, message.content, message.refusal, message.tool_calls) == (
        "assistant",
        REPLY,
        None,
        None,
    )
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (5, 4, 9)
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details and usage.completion_tokens_details.reasoning_tokens == 0
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["authorization"] == f"Bearer {fake.api_key}"
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.json() == {"model": MODEL, "messages": MESSAGES}


def test_chat_stream_concatenates_to_non_stream_content(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    full = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert len(chunks) == 1 + 4 + 1
    first = chunks[0].choices[0].delta
    assert (first.role, first.content, first.refusal) == ("assistant", "", None)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == full.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks] == [None] * 5 + ["stop"]
    assert chunks[-1].choices[0].delta.content is None
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.usage is None for c in chunks)
    assert fake.disconnects == 0


def test_chat_stream_wire_framing(fake: FakeOpenAI) -> None:
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    response = _post(fake, "/chat/completions", body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"].startswith("req_")
    *data, done = _sse_data(response)
    assert done == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(d, strict=True) for d in data]
    assert all("usage" in json.loads(d) for d in data)
    assert [c.usage is None for c in chunks] == [True] * (len(chunks) - 1) + [False]


def test_chat_stream_include_usage(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    stream = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    *content_chunks, usage_chunk = chunks
    assert all(c.usage is None and len(c.choices) == 1 for c in content_chunks)
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None and full.usage is not None
    assert usage_chunk.usage.model_dump() == full.usage.model_dump()


async def test_async_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    full = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert full.choices[0].message.content == REPLY
    stream = await aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-1].usage is not None and full.usage is not None
    assert chunks[-1].usage.total_tokens == full.usage.total_tokens == 9


def test_chat_n_choices(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert {c.message.content for c in completion.choices} == {REPLY}
    assert completion.usage is not None and completion.usage.completion_tokens == 12
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2, stream=True)
    texts = ["", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == [REPLY, REPLY]


def test_chat_content_parts_and_images(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    content = [{"type": "text", "text": "what is "}, image, {"type": "text", "text": "this"}, image]
    messages: list[Any] = [{"role": "user", "content": content}]
    completion = client.chat.completions.create(model="gpt-4o", messages=messages)
    assert completion.choices[0].message.content == "echo: what is this [images: 2]"
    assert fake.requests[-1].json()["messages"][0]["content"][1] == image


@pytest.mark.parametrize("limit_param", ["max_tokens", "max_completion_tokens"])
def test_chat_token_limit_truncates(client: openai.OpenAI, limit_param: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "one two three four five"}]
    limit: Any = {limit_param: 3}
    completion = client.chat.completions.create(model=MODEL, messages=messages, **limit)
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("echo: one two", "length")
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True, **limit))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: one two"
    assert chunks[-1].choices[0].finish_reason == "length"


# --- tool calls ---------------------------------------------------------------------------------


def test_an_assistant_message_sent_back_as_the_sdk_parsed_it_passes_and_an_unknown_field_is_refused(
        client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message
    history: list[Any] = [*MESSAGES, reply, {"role": "user", "content": "go"}]
    again = client.chat.completions.create(model=MODEL, messages=history)
    assert again.choices[0].message.content == "echo: go"  # refusal, annotations: fields the API knows
    other: Any = {"role": "assistant", "content": "4", "reasoning_content": "2 and 2"}  # another provider's answer
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[*MESSAGES, other, {"role": "user", "content": "go"}])
    assert caught.value.status_code == 400 and caught.value.code == "unknown_parameter"
    assert caught.value.param == "messages[2].reasoning_content"
    assert caught.value.body == {"message": "Unknown parameter: 'messages[2].reasoning_content'.",
                                 "type": "invalid_request_error", "param": "messages[2].reasoning_content",
                                 "code": "unknown_parameter"}


def test_tool_calls_non_stream(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    ChatCompletion.model_validate(raw.http_response.json(), strict=True)
    choice = raw.parse().choices[0]
    assert (choice.finish_reason, choice.message.content) == ("tool_calls", None)
    calls = _calls(choice.message)
    assert [name for _, name, _ in calls] == ["get_weather", "get_time"]
    assert all(cid.startswith("call_") for cid, _, _ in calls)
    assert len({cid for cid, _, _ in calls}) == 2
    assert all(json.loads(arguments) == {"echo": "hello there friend"} for _, _, arguments in calls)
    assert fake.requests[-1].json()["tools"] == TOOLS


def test_tool_choice_variants(client: openai.OpenAI) -> None:
    def names(**options: Any) -> list[str]:
        message = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, **options)
        return [name for _, name, _ in _calls(message.choices[0].message)]

    assert names(parallel_tool_calls=False) == ["get_weather"]
    assert names(tool_choice={"type": "function", "function": {"name": "get_time"}}) == ["get_time"]
    assert names(tool_choice="required") == ["get_weather", "get_time"]
    text = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, tool_choice="none")
    assert (text.choices[0].message.content, text.choices[0].message.tool_calls) == (REPLY, None)


def test_parallel_tool_calls_without_tools_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only allowed when 'tools' are specified") as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                       parallel_tool_calls=False)
    assert caught.value.param == "parallel_tool_calls"


def test_tool_calls_stream_helper_reassembles(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES, tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    fragments = [e for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len(fragments) >= 6  # three or more argument pieces per call
    assert final.choices[0].finish_reason == "tool_calls"
    assert _calls(final.choices[0].message) == _calls(full.choices[0].message)
    parsed = [c.function.parsed_arguments for c in final.choices[0].message.tool_calls or []]
    assert parsed == [{"echo": "hello there friend"}] * 2


async def test_tool_calls_stream_async_manual_accumulation(aclient: openai.AsyncOpenAI) -> None:
    full = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS)
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, tools=TOOLS, stream=True)
    calls: dict[int, list[str]] = {}
    pieces: dict[int, int] = {}
    finish = None
    async for chunk in stream:
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            assert delta.function is not None
            if delta.id is not None:
                calls[delta.index] = [delta.id, delta.function.name or "", ""]
            else:
                pieces[delta.index] = pieces.get(delta.index, 0) + 1
            calls[delta.index][2] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert pieces == {0: 3, 1: 3}
    assert [tuple(calls[i]) for i in sorted(calls)] == _calls(full.choices[0].message)


# --- legacy completions -------------------------------------------------------------------------


def test_completions_non_stream(client: openai.OpenAI) -> None:
    raw = client.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt="say this")
    Completion.model_validate(raw.http_response.json(), strict=True)
    completion = raw.parse()
    assert completion.id.startswith("cmpl-") and completion.object == "text_completion"
    (choice,) = completion.choices
    assert (choice.text, choice.index, choice.logprobs, choice.finish_reason) == (
        "echo: say this",
        0,
        None,
        "stop",
    )
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 3)
    many = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["a b", "c"], max_tokens=2)
    assert [(c.index, c.text, c.finish_reason) for c in many.choices] == [
        (0, "echo: a", "length"),
        (1, "echo: c", "stop"),
    ]


def test_completions_stream(client: openai.OpenAI) -> None:
    full = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say this please")
    stream = client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt="say this please",
        stream=True,
        stream_options={"include_usage": True},
    )
    *chunks, usage_chunk = list(stream)
    assert all(c.object == "text_completion" and c.usage is None for c in chunks)
    assert "".join(c.choices[0].text for c in chunks) == full.choices[0].text == "echo: say this please"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert usage_chunk.choices == [] and usage_chunk.usage is not None and full.usage is not None
    assert usage_chunk.usage.model_dump() == full.usage.model_dump()


async def test_async_completions_stream(aclient: openai.AsyncOpenAI) -> None:
    stream = await aclient.completions.create(model="gpt-3.5-turbo-instruct", prompt="x y z", stream=True)
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks) == "echo: x y z"
    assert chunks[-1].choices[0].finish_reason == "stop"


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_float_and_base64(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    model = "text-embedding-3-small"
    raw = client.embeddings.with_raw_response.create(model=model, input="hello", encoding_format="float")
    CreateEmbeddingResponse.model_validate(raw.http_response.json(), strict=True)
    floats = raw.parse()
    vector = floats.data[0].embedding
    assert (floats.object, floats.model, floats.data[0].object, floats.data[0].index) == (
        "list",
        model,
        "embedding",
        0,
    )
    assert len(vector) == 8 and math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-6)
    # Without encoding_format the SDK asks for base64 itself and decodes it back to floats.
    decoded = client.embeddings.create(model=model, input="hello")
    assert fake.requests[-1].json()["encoding_format"] == "base64"
    assert decoded.data[0].embedding == vector
    # With an explicit "base64" the SDK hands back the raw string: little-endian float32 bytes.
    explicit = client.embeddings.create(model=model, input="hello", encoding_format="base64")
    encoded: Any = explicit.data[0].embedding
    assert isinstance(encoded, str)
    assert array.array("f", base64.b64decode(encoded)).tolist() == vector


def test_embeddings_dimensions_batches_and_tokens(client: openai.OpenAI) -> None:
    model = "text-embedding-3-large"
    full = client.embeddings.create(model=model, input="hello", encoding_format="float").data[0].embedding
    short = client.embeddings.create(model=model, input="hello", dimensions=4).data[0].embedding
    assert len(short) == 4 and math.isclose(math.hypot(*short), 1.0, rel_tol=1e-6)
    scale = math.hypot(*full[:4])
    assert all(math.isclose(s, f / scale, rel_tol=1e-5) for s, f in zip(short, full[:4], strict=True))
    batch = client.embeddings.create(model=model, input=["a", "b c", "a"])
    assert [d.index for d in batch.data] == [0, 1, 2]
    assert batch.data[0].embedding == batch.data[2].embedding != batch.data[1].embedding
    assert (batch.usage.prompt_tokens, batch.usage.total_tokens) == (4, 4)
    tokens = client.embeddings.create(model=model, input=[[1, 2, 3], [4, 5]])
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 5
    single = client.embeddings.create(model=model, input=[1, 2, 3])
    assert single.data[0].embedding == tokens.data[0].embedding


@pytest.mark.parametrize("bad_input", ["", [], ["ok", ""]])
def test_embeddings_reject_empty_input(client: openai.OpenAI, bad_input: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input=bad_input)
    assert caught.value.status_code == 400
    assert caught.value.message.startswith("Error code: 400 - ")
    assert caught.value.body == {
        "message": "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


# --- models -------------------------------------------------------------------------------------


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    listed = client.models.list()
    ids = [m.id for m in listed.data]
    assert {"gpt-4o-mini", "text-embedding-3-small"} <= set(ids)
    assert all(m.object == "model" and m.created > 0 and m.owned_by for m in listed.data)
    model = client.models.retrieve("gpt-4o-mini")
    assert (model.id, model.object) == ("gpt-4o-mini", "model")
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-nope")
    assert caught.value.code == "model_not_found"


async def test_async_models(aclient: openai.AsyncOpenAI) -> None:
    ids = [m.id async for m in aclient.models.list()]
    assert "text-embedding-3-small" in ids


# --- auth and validation errors -----------------------------------------------------------------


def test_wrong_api_key(fake: FakeOpenAI) -> None:
    wrong = openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong", max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model=MODEL, messages=MESSAGES)
    error = caught.value
    assert (
        error.status_code == 401 and error.code == "invalid_api_key" and error.type == "invalid_request_error"
    )
    assert error.body == {
        "message": "Incorrect API key provided: sk-wro****ong. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert error.response.headers["content-type"] == "application/json"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-wrong"


def test_missing_api_key(fake: FakeOpenAI) -> None:
    with httpx.Client() as http:
        response = http.get(fake.base_url + "/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)


@pytest.mark.parametrize(
    ("body", "param"),
    [({"messages": MESSAGES}, "model"), ({"model": MODEL}, "messages")],
)
def test_missing_required_parameter(fake: FakeOpenAI, body: Any, param: str) -> None:
    response = _post(fake, "/chat/completions", body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": f"Missing required parameter: '{param}'.",
        "type": "invalid_request_error",
        "param": param,
        "code": "missing_required_parameter",
    }


def test_invalid_json_unknown_path_and_wrong_method(fake: FakeOpenAI) -> None:
    bad = _post(fake, "/chat/completions", b"{not json")
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")
    unknown = _post(fake, "/nope", {})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
    assert unknown.headers["content-type"] == "application/json"
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        wrong = http.get(fake.base_url + "/chat/completions")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["message"] == "Invalid method for URL (GET /v1/chat/completions)"
    assert [r.path for r in fake.requests] == ["/v1/chat/completions", "/v1/nope", "/v1/chat/completions"]


def test_unknown_model_and_empty_messages(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-unknown", messages=MESSAGES)
    assert missing.value.body == {
        "message": "The model `gpt-unknown` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    with pytest.raises(openai.BadRequestError) as empty:
        client.chat.completions.create(model=MODEL, messages=[])
    assert (empty.value.param, empty.value.code) == ("messages", "empty_array")
    with pytest.raises(openai.BadRequestError) as options:  # OpenAI rejects stream_options without stream
        client.chat.completions.create(model=MODEL, messages=MESSAGES, stream_options={"include_usage": True})
    assert (options.value.param, options.value.code) == ("stream_options", None)


# --- fault injection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (403, openai.PermissionDeniedError, "request_forbidden"),
        (404, openai.NotFoundError, "invalid_request_error"),
        (429, openai.RateLimitError, "requests"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "service_unavailable"),
    ],
)
def test_fault_status(
    client: openai.OpenAI,
    fake: FakeOpenAI,
    status: int,
    error_class: type[openai.APIStatusError],
    error_type: str,
) -> None:
    model = f"fault-status-{status}"
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=MESSAGES)
    error = caught.value
    assert type(error) is error_class
    assert (error.status_code, error.type) == (status, error_type)
    assert isinstance(error.body, dict) and set(error.body) == {"message", "type", "param", "code"}
    assert len(fake.requests) == 1 and fake.requests[0].json()["model"] == model  # max_retries=0
    if status == 400:
        assert error.param == "messages"
    if status == 429:
        assert error.code == "rate_limit_exceeded"
        assert error.response.headers["retry-after"] == "1"


def test_fault_status_other_code_on_embeddings(fake: FakeOpenAI) -> None:
    response = _post(fake, "/embeddings", {"model": "fault-status-502", "input": "x"})
    assert response.status_code == 502 and response.json()["error"]["type"] == "server_error"


def test_fault_cut_stream(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    received = []
    stream = client.chat.completions.create(model="fault-cut-3", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    assert type(caught.value.__cause__).__name__ == "RemoteProtocolError"
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert fake.disconnects == 0  # the server hung up, not the client


def test_fault_cut_seen_by_raw_httpx(fake: FakeOpenAI) -> None:
    body = {"model": "fault-cut-2", "messages": MESSAGES, "stream": True}
    headers = {"authorization": f"Bearer {fake.api_key}"}
    data = b""
    with (
        httpx.Client() as http,
        http.stream("POST", fake.base_url + "/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for piece in response.iter_raw():
                data += piece
    assert data.count(b"data: ") == 2 and b"[DONE]" not in data
    with pytest.raises(httpx.RemoteProtocolError, match=r"received \d+ bytes, expected \d+"):
        _post(fake, "/chat/completions", {"model": "fault-cut-1", "messages": MESSAGES})


async def test_fault_cut_async_and_non_stream(aclient: openai.AsyncOpenAI) -> None:
    stream = await aclient.chat.completions.create(model="fault-cut-1", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 1
    with pytest.raises(openai.APIConnectionError):
        await aclient.chat.completions.create(model="fault-cut-5", messages=MESSAGES)


def test_fault_garbage(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    # A 200 that is not JSON: the lenient SDK returns the body text instead of a ChatCompletion.
    result: Any = client.chat.completions.create(model="fault-garbage", messages=MESSAGES)
    assert result == "<html>502 Bad Gateway</html>"
    strict = openai.OpenAI(
        base_url=fake.base_url, api_key=fake.api_key, max_retries=0, _strict_response_validation=True
    )
    with strict, pytest.raises(openai.APIResponseValidationError):
        strict.chat.completions.create(model="fault-garbage", messages=MESSAGES)
    stream = client.chat.completions.create(model="fault-garbage", messages=MESSAGES, stream=True)
    with pytest.raises(json.JSONDecodeError):
        list(stream)
    response = _post(fake, "/completions", {"model": "fault-garbage", "prompt": "x"})
    assert response.headers["content-type"].startswith("text/html") and response.status_code == 200


def test_fault_stall_times_out(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="fault-stall-5", messages=MESSAGES)
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)  # the fake saw the client give up while it stalled
    quick = client.chat.completions.create(model="fault-stall-0.1", messages=MESSAGES)
    assert (quick.model, quick.choices[0].message.content) == ("fault-stall-0.1", REPLY)


async def test_fault_stall_async(aclient: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        await aclient.embeddings.create(model="fault-stall-5", input="x", timeout=0.2)
    assert await asyncio.to_thread(fake.wait_for_disconnect, 5.0)


def test_slow_stream_client_disconnect_is_observed(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    stream = client.chat.completions.create(model="fault-slow-stream-0.2", messages=MESSAGES, stream=True)
    started = time.monotonic()
    first = [next(stream) for _ in range(3)]
    assert first[0].choices[0].delta.role == "assistant"
    stream.close()
    assert fake.wait_for_disconnect(timeout=5.0)
    assert fake.disconnects == 1
    assert time.monotonic() - started < 5.0  # far less than the 10 s the full stream would take


async def test_slow_stream_async_disconnect(aclient: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    stream = await aclient.completions.create(model="fault-slow-stream-0.2", prompt="x", stream=True)
    chunk = await stream.__anext__()
    assert chunk.choices[0].text == "token0 "
    await stream.close()
    assert await asyncio.to_thread(fake.wait_for_disconnect, 5.0)


def test_slow_stream_completes(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    stream = client.chat.completions.create(model="fault-slow-stream-0.005", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == SLOW_REPLY
    assert not fake.wait_for_disconnect(timeout=0.2)


# --- harness ------------------------------------------------------------------------------------


def test_lifecycle_and_clear() -> None:
    other = FakeOpenAI(api_key="sk-other")
    with other as started:
        assert started is other and other.base_url == f"http://127.0.0.1:{other.port}/v1"
        response = httpx.get(other.base_url + "/models", headers={"authorization": "Bearer sk-other"})
        assert response.status_code == 200 and len(other.requests) == 1
        other.clear()
        assert other.requests == [] and other.disconnects == 0
        port = other.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")


def test_fault_context_is_openais_context_length_error(fake: FakeOpenAI) -> None:
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk, \
            pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="fault-context", messages=[{"role": "user", "content": "long"}])
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "messages"
    assert "maximum context length is 8192 tokens" in caught.value.message


def test_the_deepseek_dialect_thinks_and_wants_its_thinking_back_in_tool_loops() -> None:
    with FakeOpenAI(dialect="deepseek") as deepseek, openai.OpenAI(base_url=deepseek.base_url,
                                                                  api_key=deepseek.api_key, max_retries=0) as sdk:
        first = sdk.chat.completions.create(model="deepseek-flash", messages=MESSAGES[1:], tools=TOOLS[:1])
        message = first.choices[0].message
        assert (message.model_extra or {})["reasoning_content"] == "Let me think about hello there friend."
        assert message.tool_calls and first.choices[0].finish_reason == "tool_calls"
        result = {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny"}
        # The SDK sends the parsed message back with what it did not know (reasoning_content) included.
        history: list[Any] = [*MESSAGES[1:], message, result]
        answer = sdk.chat.completions.create(model="deepseek-flash", messages=history)
        assert answer.choices[0].message.content == REPLY
        bare: list[Any] = [*MESSAGES[1:], message.model_dump(exclude_none=True, exclude={"reasoning_content"}), result]
        with pytest.raises(openai.BadRequestError, match="reasoning_content` in the thinking mode must be passed"):
            sdk.chat.completions.create(model="deepseek-flash", messages=bare)
        off = sdk.chat.completions.create(model="deepseek-flash", messages=bare,
                                          extra_body={"thinking": {"type": "disabled"}})
        assert off.choices[0].message.model_extra == {}
        with pytest.raises(openai.BadRequestError, match="unknown variant `developer`"):
            sdk.chat.completions.create(model="deepseek-flash",
                                        messages=[{"role": "developer", "content": "be brief"}, *MESSAGES[1:]])
        stream = sdk.chat.completions.create(model="deepseek-flash", messages=MESSAGES[1:], stream=True)
        deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
        thought = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
        assert thought == "Let me think about hello there friend."
        assert "".join(d.content or "" for d in deltas) == REPLY
