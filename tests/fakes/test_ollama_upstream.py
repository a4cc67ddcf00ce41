"""Proves `FakeOllama` faithful: the official `ollama` Python client must send what the fake reads and parse all
it answers (chat plain, streamed, with tools, images and formats; embed; tags; show; errors).

The client parses leniently (pydantic models that keep unknown fields out), so raw httpx checks the wire itself:
content types, NDJSON framing, the error body and gin's plain-text 404.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pydantic
import pytest

from tests.fakes.ollama_upstream import NDJSON, RUNNER_FAILURE, FakeOllama

KEY = "ollama-proxy-key-5d1e"
PROMPT = "hello there my friend how are you"
REPLY = "echo: " + PROMPT
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")


def get_weather(city: str, days: int) -> str:
    """Weather forecast for a city.

    Args:
      city: The city
      days: How many days ahead
    """
    return f"sunny in {city}"


class Forecast(pydantic.BaseModel):
    city: str
    days: int
    rain: bool


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOllama) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake.base_url) as sdk:
        yield sdk


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_chat_answers_one_object_with_counts(client: ollama.Client, fake: FakeOllama) -> None:
    reply = client.chat(model="llama3.2", messages=[{"role": "system", "content": "Be brief."}, *user(PROMPT)])
    assert reply.message.role == "assistant" and reply.message.content == REPLY
    assert reply.done and reply.done_reason == "stop" and reply.model == "llama3.2"
    assert reply.prompt_eval_count == 9 and reply.eval_count == 8
    assert reply.total_duration and reply.eval_duration and reply.created_at
    sent = fake.requests[-1]
    assert sent.path == "/api/chat" and sent.json()["stream"] is False
    raw = httpx.post(fake.base_url + "/api/chat", json={"model": "llama3.2", "messages": user("x"), "stream": False})
    assert raw.headers["content-type"] == "application/json; charset=utf-8"
    assert list(raw.json())[:5] == ["model", "created_at", "message", "done_reason", "done"]


def test_chat_streams_ndjson_a_word_a_line(client: ollama.Client, fake: FakeOllama) -> None:
    parts = list(client.chat(model="llama3.2", messages=user(PROMPT), stream=True))
    assert "".join(p.message.content or "" for p in parts) == REPLY
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    assert parts[-1].done_reason == "stop" and parts[-1].eval_count == 8
    with httpx.stream("POST", fake.base_url + "/api/chat", json={"model": "llama3.2", "messages": user("a b")}) as raw:
        assert raw.headers["content-type"] == NDJSON  # streaming is the default
        lines = [json.loads(line) for line in raw.iter_lines()]
    assert [line["message"]["content"] for line in lines] == ["echo: ", "a ", "b", ""]


def test_tool_calls_carry_object_arguments_and_results_go_back_by_tool_name(client: ollama.Client) -> None:
    reply = client.chat(model="llama3.2", messages=user("get_weather for city=Paris days=3"), tools=[get_weather])
    [call] = reply.message.tool_calls or []
    assert call.function.name == "get_weather" and call.function.arguments == {"city": "Paris", "days": 3}
    streamed = list(client.chat(model="llama3.2", messages=user("get_weather for city=Paris days=3"),
                                tools=[get_weather], stream=True))
    assert [p.message.tool_calls for p in streamed if p.message.tool_calls] == [reply.message.tool_calls]
    history: list[Any] = [*user("get_weather for city=Paris"), reply.message,
               {"role": "tool", "content": "sunny", "tool_name": "get_weather"}]
    answer = client.chat(model="llama3.2", messages=history, tools=[get_weather])
    assert answer.message.content == "results: get_weather returned sunny" and not answer.message.tool_calls


def test_tool_call_ids_and_indexes_are_on_the_wire(fake: FakeOllama) -> None:
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("clock", "weather")]
    body = {"model": "llama3.2", "messages": user("weather and clock"), "tools": tools, "stream": False}
    calls = httpx.post(fake.base_url + "/api/chat", json=body).json()["message"]["tool_calls"]
    assert [(c["function"]["index"], c["function"]["name"]) for c in calls] == [(0, "clock"), (1, "weather")]
    assert all(c["id"].startswith("call_") and len(c["id"]) == 13 for c in calls)


def test_images_are_base64(client: ollama.Client, fake: FakeOllama) -> None:
    reply = client.chat(model="llava", messages=[{"role": "user", "content": "What is it?", "images": [PNG]}])
    assert reply.message.content == "echo: What is it? [images: 1]"
    bad = {"model": "llava", "messages": [{"role": "user", "content": "x", "images": ["data:image/png;base64,AA"]}]}
    rejected = httpx.post(fake.base_url + "/api/chat", json=bad)
    assert rejected.status_code == 400 and rejected.json()["error"].startswith("illegal base64 data at input byte")


def test_formats_json_mode_and_schema(client: ollama.Client) -> None:
    mode = client.chat(model="llama3.2", messages=user("hi"), format="json")
    assert json.loads(mode.message.content or "") == {"echo": "hi"}
    structured = client.chat(model="llama3.2", messages=user("hi"), format=Forecast.model_json_schema())
    assert Forecast.model_validate_json(structured.message.content or "") == Forecast(city="example", days=1,
                                                                                     rain=True)


def test_options_limit_and_stop(client: ollama.Client) -> None:
    cut = client.chat(model="llama3.2", messages=user(PROMPT), options={"num_predict": 3})
    assert cut.message.content == "echo: hello there" and cut.done_reason == "length"
    stopped = client.chat(model="llama3.2", messages=user(PROMPT), options=ollama.Options(stop=[" my"]))
    assert stopped.message.content == "echo: hello there" and stopped.done_reason == "stop"


def test_thinking_models_think_by_default(client: ollama.Client) -> None:
    thought = client.chat(model="qwen3", messages=user("hi"))
    assert thought.message.thinking == "The user said: hi" and thought.message.content == "echo: hi"
    assert client.chat(model="qwen3", messages=user("hi"), think=False).message.thinking is None
    parts = list(client.chat(model="qwen3", messages=user("hi"), stream=True))
    assert parts[0].message.thinking and not parts[0].message.content
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama3.2", messages=user("hi"), think=True)
    assert caught.value.status_code == 400 and caught.value.error == '"llama3.2" does not support thinking'


def test_embed_one_or_many_in_order(client: ollama.Client) -> None:
    one = client.embed(model="nomic-embed-text", input="hello world")
    assert len(one.embeddings) == 1 and len(one.embeddings[0]) == 768 and one.prompt_eval_count == 2
    many = client.embed(model="nomic-embed-text", input=["a", "hello world", "a"])
    assert many.embeddings[0] == many.embeddings[2] != many.embeddings[1]
    assert many.embeddings[1] == one.embeddings[0]
    short = client.embed(model="nomic-embed-text", input="hello world", dimensions=64).embeddings[0]
    assert len(short) == 64 and math.isclose(math.fsum(v * v for v in short), 1.0, rel_tol=1e-6)
    assert client.embed(model="all-minilm", input=["x"]).embeddings[0].__len__() == 384
    long = " ".join(["word"] * 600)
    assert client.embed(model="all-minilm", input=long).prompt_eval_count == 512
    with pytest.raises(ollama.ResponseError) as caught:
        client.embed(model="all-minilm", input=long, truncate=False)
    assert caught.value.status_code == 400


def test_tags_and_show(client: ollama.Client) -> None:
    listed = client.list().models
    assert [m.model for m in listed][:2] == ["llama3.2:latest", "qwen3:latest"]
    assert listed[0].details is not None and listed[0].details.family == "llama" and listed[0].size
    shown = client.show("llama3.2")
    assert shown.capabilities == ["completion", "tools"] and shown.modelinfo
    assert shown.modelinfo["llama.context_length"] == 131072
    with pytest.raises(ollama.ResponseError) as caught:
        client.show("mistral")
    assert caught.value.status_code == 404 and caught.value.error == "model 'mistral' not found"


def test_errors(client: ollama.Client, fake: FakeOllama) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="mistral", messages=user("hi"))
    assert missing.value.status_code == 404
    assert missing.value.error == 'model "mistral" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as embedder:
        client.chat(model="nomic-embed-text", messages=user("hi"))
    assert embedder.value.error == '"nomic-embed-text" does not support chat'
    with pytest.raises(ollama.ResponseError) as no_tools:
        client.chat(model="llava", messages=user("hi"), tools=[get_weather])
    assert no_tools.value.error.endswith("llava:latest does not support tools")
    with pytest.raises(ollama.ResponseError) as failed:
        client.chat(model="fault-status-500", messages=user("hi"))
    assert failed.value.status_code == 500
    listed = {"model": "llama3.2", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}
    typed = httpx.post(fake.base_url + "/api/chat", json=listed)
    assert typed.status_code == 400 and "cannot unmarshal array" in typed.json()["error"]
    assert httpx.get(fake.base_url + "/v2/nothing").text == "404 page not found"
    assert httpx.get(fake.base_url + "/").text == "Ollama is running"
    assert httpx.get(fake.base_url + "/api/version").json()["version"]


def test_stream_faults(client: ollama.Client) -> None:
    received: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        for part in client.chat(model="fault-stream-error", messages=user(PROMPT), stream=True):
            received.append(part.message.content or "")
    assert caught.value.error == RUNNER_FAILURE and received == ["echo: ", "hello "]
    with pytest.raises(httpx.RemoteProtocolError):
        list(client.chat(model="fault-cut-2", messages=user(PROMPT), stream=True))
    with pytest.raises(json.JSONDecodeError):
        list(client.chat(model="fault-garbage", messages=user(PROMPT), stream=True))


def test_api_key_is_a_bearer_token() -> None:
    with FakeOllama(api_key=KEY) as keyed:
        with ollama.Client(host=keyed.base_url, headers={"Authorization": f"Bearer {KEY}"}) as sdk:
            assert sdk.list().models
        with ollama.Client(host=keyed.base_url) as anonymous, pytest.raises(ollama.ResponseError) as caught:
            anonymous.list()
        assert caught.value.status_code == 401 and caught.value.error == "unauthorized"
