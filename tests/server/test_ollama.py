"""Ollama's native API end to end: chat (plain, streamed, tools), embeddings, model listing, credential checks and
Ollama's errors, through the gateway with the openai SDK against `FakeOllama`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionToolParam

from tests.conftest import GATEWAY_KEY
from tests.fakes.ollama_upstream import RUNNER_FAILURE, FakeOllama
from tests.gateway import GatewayProcess

OLLAMA_KEY = "ollama-proxy-canary-8c2f"
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: ollama
    provider: ollama
    credentials: {base_url: "${OLLAMA_URL}/api", api_key: "${OLLAMA_KEY}"}
    models:
      - "*"
      - {model: qwen3, model_type: llm, credentials: {context_size: "40960", max_tokens_to_sample: "100"}}
  - name: nokey
    provider: ollama
    credentials: {base_url: "${OLLAMA_URL}"}
router: {retries: 0, timeout_s: 5}
"""
PROMPT = "hello there my friend"
WEATHER: ChatCompletionToolParam = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}
CLOCK: ChatCompletionToolParam = {"type": "function", "function": {
    "name": "clock", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(api_key=OLLAMA_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(ollama: FakeOllama) -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, {"GATEWAY_KEY": GATEWAY_KEY, "OLLAMA_URL": ollama.base_url,
                                  "OLLAMA_KEY": OLLAMA_KEY}) as gw:
        yield gw


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_chat_goes_to_api_chat_with_stream_false(client: openai.OpenAI, ollama: FakeOllama) -> None:
    ollama.clear()
    reply = client.chat.completions.create(model="ollama/llama3.2", messages=user(PROMPT), temperature=0.2,
                                           max_tokens=50)
    assert reply.choices[0].message.content == "echo: " + PROMPT and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 5)
    assert reply.usage.total_tokens == 9 and reply.model == "llama3.2"
    sent = ollama.requests[-1]
    assert sent.path == "/api/chat" and sent.headers["authorization"] == f"Bearer {OLLAMA_KEY}"
    assert sent.json() == {"model": "llama3.2", "messages": user(PROMPT), "stream": False,
                           "options": {"temperature": 0.2, "num_predict": 50}}


def test_a_configured_model_gets_its_window_as_num_ctx_and_its_thinking_as_reasoning_content(
        client: openai.OpenAI, ollama: FakeOllama) -> None:
    ollama.clear()
    reply = client.chat.completions.create(model="ollama/qwen3", messages=user("hi"))
    assert reply.choices[0].message.content == "echo: hi"
    assert reply.choices[0].message.model_extra == {"reasoning_content": "The user said: hi"}
    quiet = client.chat.completions.create(model="ollama/qwen3", messages=user("hi"), extra_body={"think": False})
    assert quiet.choices[0].message.model_extra == {}  # no thinking, no field
    assert ollama.requests[-1].json()["options"] == {"num_ctx": 40960}
    with pytest.raises(openai.BadRequestError) as too_many:
        client.chat.completions.create(model="ollama/qwen3", messages=user("hi"), max_tokens=1000)
    assert too_many.value.body is not None and "max_tokens" in str(too_many.value.body)


def test_a_streamed_chat_reassembles_to_the_plain_answer(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="ollama/qwen3", messages=user(PROMPT))
    chunks = list(client.chat.completions.create(model="ollama/qwen3", messages=user(PROMPT), stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    thought = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks if c.choices)
    assert thought == (plain.choices[0].message.model_extra or {})["reasoning_content"] == f"The user said: {PROMPT}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"] and chunks[-1].usage == plain.usage and not chunks[-1].choices
    assert len({c.id for c in chunks}) == 1


def test_streamed_tool_calls_reassemble_to_the_plain_ones(client: openai.OpenAI) -> None:
    messages = user("get_weather and clock for city=Paris")
    plain = client.chat.completions.create(model="ollama/llama3.2", messages=messages, tools=[WEATHER, CLOCK])
    assert plain.choices[0].finish_reason == "tool_calls" and plain.choices[0].message.content is None
    calls = plain.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls if c.type == "function"] == [
        ("get_weather", {"city": "Paris", "days": 1}), ("clock", {})]
    with client.chat.completions.stream(model="ollama/llama3.2", messages=messages, tools=[WEATHER, CLOCK]) as stream:
        streamed = stream.get_final_completion()
    assert streamed.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in streamed.choices[0].message.tool_calls or []
            if c.type == "function"] == [(c.id, c.function.name, c.function.arguments) for c in calls
                                         if c.type == "function"]


def test_tool_results_go_back_named_after_the_call(client: openai.OpenAI, ollama: FakeOllama) -> None:
    first = client.chat.completions.create(model="ollama/llama3.2", messages=user("get_weather city=Oslo"),
                                           tools=[WEATHER])
    [call] = first.choices[0].message.tool_calls or []
    ollama.clear()
    history: list[Any] = [*user("get_weather city=Oslo"), first.choices[0].message.model_dump(exclude_none=True),
                          {"role": "tool", "tool_call_id": call.id, "content": "rain"}]
    reply = client.chat.completions.create(model="ollama/llama3.2", messages=history, tools=[WEATHER])
    assert reply.choices[0].message.content == "results: get_weather returned rain"
    sent = ollama.requests[-1].json()["messages"]
    assert sent[1]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}}}]
    assert sent[2] == {"role": "tool", "content": "rain", "tool_name": "get_weather"}


def test_images_json_mode_and_structured_output(client: openai.OpenAI) -> None:
    parts: list[ChatCompletionContentPartParam] = [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    seen = client.chat.completions.create(model="ollama/llava", messages=[{"role": "user", "content": parts}])
    assert seen.choices[0].message.content == "echo: What? [images: 1]"
    with pytest.raises(openai.BadRequestError) as linked:
        client.chat.completions.create(model="ollama/llava", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert linked.value.param == "messages[0].content[0].image_url.url"
    mode = client.chat.completions.create(model="ollama/llama3.2", messages=user("hi"),
                                          response_format={"type": "json_object"})
    assert json.loads(mode.choices[0].message.content or "") == {"echo": "hi"}
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
    shaped = client.chat.completions.create(model="ollama/llama3.2", messages=user("hi"), response_format={
        "type": "json_schema", "json_schema": {"name": "forecast", "schema": dict(schema)}})
    assert json.loads(shaped.choices[0].message.content or "") == {"city": "example", "days": 1}


def test_length_finish_reason(client: openai.OpenAI) -> None:
    cut = client.chat.completions.create(model="ollama/llama3.2", messages=user(PROMPT), max_tokens=2)
    assert cut.choices[0].finish_reason == "length" and cut.choices[0].message.content == "echo: hello"
    chunks = list(client.chat.completions.create(model="ollama/llama3.2", messages=user(PROMPT), max_tokens=2,
                                                 stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["length"]


def test_embeddings_keep_one_vector_per_input_in_order(client: openai.OpenAI, ollama: FakeOllama) -> None:
    ollama.clear()
    texts = ["alpha", "beta gamma", "alpha", "delta"]
    batch = client.embeddings.create(model="ollama/nomic-embed-text", input=texts)
    assert [d.index for d in batch.data] == [0, 1, 2, 3] and len(batch.data[0].embedding) == 768
    assert batch.data[0].embedding == batch.data[2].embedding != batch.data[1].embedding
    single = client.embeddings.create(model="ollama/nomic-embed-text", input="beta gamma")
    assert single.data[0].embedding == batch.data[1].embedding
    assert batch.usage.prompt_tokens == 5
    assert ollama.requests[0].json() == {"model": "nomic-embed-text", "input": texts}
    short = client.embeddings.create(model="ollama/nomic-embed-text", input=["alpha"], dimensions=32,
                                     encoding_format="base64")
    assert len(base64.b64decode(str(short.data[0].embedding))) == 32 * 4  # float32s


def test_models_are_listed_and_credentials_checked(gateway: GatewayProcess, ollama: FakeOllama) -> None:
    listed = httpx.get(f"{gateway.base_url}/providers/ollama/models", params={"instance": "ollama"}, headers=AUTH,
                       timeout=10).json()
    remote = [m["model"] for m in listed["data"] if m.get("fetch_from") == "fetch-from-remote"]
    assert "llama3.2:latest" in remote and "nomic-embed-text:latest" in remote

    def validate(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{gateway.base_url}/providers/ollama/{path}", json=body, headers=AUTH, timeout=10)
        assert response.status_code == 200 and OLLAMA_KEY not in response.text
        result: dict[str, Any] = response.json()
        return result

    good = {"base_url": ollama.base_url, "api_key": OLLAMA_KEY}
    assert validate("credentials/validate", {"credentials": good}) == {"valid": True}
    assert validate("credentials/validate", {"credentials": {"base_url": ollama.base_url}})["valid"] is False
    model = {"model": "llava", "model_type": "llm", "provider_credentials": good, "credentials": {}}
    assert validate("models/credentials/validate", model) == {"valid": True}
    missing = validate("models/credentials/validate", {**model, "model": "mistral"})
    assert missing["valid"] is False and "mistral" in missing["error"]


def test_errors_keep_their_meaning(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="ollama/mistral", messages=user("hi"))
    assert missing.value.code == "model_not_found" and "try pulling it first" in missing.value.message
    with pytest.raises(openai.BadRequestError) as no_tools:
        client.chat.completions.create(model="ollama/llava", messages=user("hi"), tools=[WEATHER])
    assert no_tools.value.param == "tools"
    with pytest.raises(openai.BadRequestError) as forced:
        client.chat.completions.create(model="ollama/llama3.2", messages=user("hi"), tools=[WEATHER],
                                       tool_choice="required")
    assert forced.value.param == "tool_choice"
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="ollama/fault-status-500", messages=user("hi"))
    assert failed.value.status_code == 502 and "llama runner process has terminated" in failed.value.message
    with pytest.raises(openai.APIError) as garbage:
        list(client.chat.completions.create(model="ollama/fault-garbage", messages=user("hi"), stream=True))
    assert garbage.value.code == "upstream_invalid_event"
    with pytest.raises(openai.AuthenticationError) as keyless:
        client.chat.completions.create(model="nokey/llama3.2", messages=user("hi"))
    assert keyless.value.code == "provider_authentication_failed"
    with pytest.raises(openai.BadRequestError) as legacy:
        client.completions.create(model="ollama/llama3.2", prompt="hi")
    assert legacy.value.code == "unsupported_model_endpoint"
    log = gateway.log()
    assert "Traceback" not in log and OLLAMA_KEY not in log


def test_a_mid_stream_error_line_ends_the_stream_with_an_error_event(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="ollama/fault-stream-error", messages=user(PROMPT),
                                                    stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "echo: hello "
    assert caught.value.code == "upstream_error" and RUNNER_FAILURE in caught.value.message


def test_a_cut_stream_ends_with_an_error_event(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model="ollama/fault-cut-3", messages=user(PROMPT), stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "echo: hello there "
    assert caught.value.code == "upstream_stream_interrupted" and "'ollama'" in caught.value.message
    assert "Traceback" not in gateway.log()
