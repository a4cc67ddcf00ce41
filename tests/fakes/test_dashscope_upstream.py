"""Proves `FakeDashScope` faithful: Alibaba's official `dashscope` SDK (pointed at the fake with `base_address`)
must send what the fake reads and parse all it answers: generation whole and streamed (incremental or not, text
or message format), tool calls, thinking, embeddings, rerank and the error objects.

The SDK never raises for an HTTP error (it answers a response with `status_code`, `code` and `message`), so the
errors are checked on those; raw httpx checks the SSE framing itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dashscope import Generation, TextEmbedding, TextReRank

from tests.fakes.dashscope_upstream import CODES, GENERATION, SENSITIVE_INPUT, SENSITIVE_OUTPUT, FakeDashScope

KEY = "sk-proof-dashscope-71c2"
WEATHER: Any = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                                 "parameters": {"type": "object", "properties": {
                                                     "city": {"type": "string"}, "days": {"type": "integer"}}}}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope(KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeDashScope) -> None:
    fake.clear()


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def generate(fake: FakeDashScope, text: str, model: str = "qwen-max", **options: Any) -> Any:
    return Generation.call(model=model, messages=user(text), api_key=KEY, base_address=fake.api_url, **options)


def test_generation_in_message_and_text_format(fake: FakeDashScope) -> None:
    reply = generate(fake, "hello there friend", result_format="message")
    assert reply.status_code == 200 and reply.request_id
    choice = reply.output.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == (
        "assistant", "echo: hello there friend", "stop")
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (3, 4, 7)
    sent = fake.requests[-1]
    assert (sent.path, sent.headers["authorization"]) == (GENERATION, f"Bearer {KEY}")
    assert sent.json()["input"] == {"messages": user("hello there friend")}
    legacy = generate(fake, "hello")
    assert (legacy.output.text, legacy.output.finish_reason) == ("echo: hello", "stop")


def test_streams_incremental_and_cumulative(fake: FakeDashScope) -> None:
    parts = list(generate(fake, "count these words", result_format="message", stream=True, incremental_output=True))
    assert "".join(p.output.choices[0].message.content for p in parts) == "echo: count these words"
    assert [p.output.choices[0].finish_reason for p in parts] == ["null"] * 4 + ["stop"]
    assert [p.usage.output_tokens for p in parts] == [1, 2, 3, 4, 4]
    assert fake.requests[-1].headers["x-dashscope-sse"] == "enable"
    # without incremental_output each event holds all so far (the SDK asks for deltas and joins them itself)
    raw = httpx.post(fake.base_url + GENERATION, json={"model": "qwen-max", "input": {"messages": user("a b")}},
                     headers={"authorization": f"Bearer {KEY}", "x-dashscope-sse": "enable"})
    assert raw.headers["content-type"] == "text/event-stream;charset=UTF-8"
    events = raw.text.split("\n\n")[:-1]
    assert events[0].split("\n")[:3] == ["id:1", "event:result", ":HTTP_STATUS/200"]
    texts = [json.loads(e.split("\ndata:")[1])["output"]["text"] for e in events]
    assert texts == ["echo: ", "echo: a ", "echo: a b", "echo: a b"]


def test_tool_calls_whole_and_streamed(fake: FakeDashScope) -> None:
    asked = "get_weather city=Paris days=3"
    whole = generate(fake, asked, result_format="message", tools=[WEATHER])
    calls = whole.output.choices[0].message.tool_calls
    assert whole.output.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris", "days": 3}
    parts = list(generate(fake, asked, result_format="message", tools=[WEATHER], stream=True,
                          incremental_output=True))
    fragments = [c for p in parts for c in p.output.choices[0].message.get("tool_calls") or []]
    assert fragments[0]["id"] == calls[0]["id"] and all(f["id"] == "" for f in fragments[1:])
    assert "".join(f["function"]["arguments"] for f in fragments) == calls[0]["function"]["arguments"]
    history = [*user(asked), {"role": "assistant", "content": "", "tool_calls": calls},
               {"role": "tool", "content": "sunny", "tool_call_id": calls[0]["id"], "name": "get_weather"}]
    final: Any = Generation.call(model="qwen-max", messages=history, tools=[WEATHER], result_format="message",
                            api_key=KEY, base_address=fake.api_url)
    assert final.output.choices[0].message.content == "results: sunny"
    quiet = generate(fake, asked, result_format="message", tools=[WEATHER], tool_choice="none")
    assert quiet.output.choices[0].message.content == "echo: " + asked


def test_thinking_limits_and_json(fake: FakeDashScope) -> None:
    thought = generate(fake, "hi", model="qwen-plus", result_format="message", enable_thinking=True)
    assert thought.output.choices[0].message.reasoning_content == "The user said: hi"
    assert thought.usage.output_tokens_details["reasoning_tokens"] == 4
    budgeted = generate(fake, "hi", model="qwen-plus", result_format="message", enable_thinking=True,
                        thinking_budget=2)
    assert budgeted.output.choices[0].message.reasoning_content == "The user"
    too_much = generate(fake, "hi", model="qwen-plus", enable_thinking=True, thinking_budget=40_000)
    assert too_much.status_code == 400 and too_much.message == "Range of thinking_budget should be [1, 38912]"
    assert generate(fake, "hi", model="qwen-max", result_format="message",
                    enable_thinking=True).output.choices[0].message.get("reasoning_content") is None
    cut = generate(fake, "one two three", result_format="message", max_tokens=2)
    assert (cut.output.choices[0].message.content, cut.output.choices[0].finish_reason) == ("echo: one", "length")
    stopped = generate(fake, "one two three", result_format="message", stop=["two"])
    assert stopped.output.choices[0].message.content == "echo: one "
    shaped = generate(fake, "one", result_format="message", response_format={"type": "json_object"})
    assert json.loads(shaped.output.choices[0].message.content) == {"echo": "one"}


def test_embeddings_in_order_with_dimension(fake: FakeDashScope) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    embedded = TextEmbedding.call(model="text-embedding-v4", input=texts, dimension=64, api_key=KEY,
                                  base_address=fake.api_url)
    vectors = embedded.output["embeddings"]
    assert [v["text_index"] for v in vectors] == [0, 1, 2] and {len(v["embedding"]) for v in vectors} == {64}
    assert embedded.usage["total_tokens"] == 6
    assert fake.requests[-1].json()["input"] == {"texts": texts}
    default = TextEmbedding.call(model="text-embedding-v3", input="x", api_key=KEY, base_address=fake.api_url)
    assert len(default.output["embeddings"][0]["embedding"]) == 1024
    too_many = TextEmbedding.call(model="text-embedding-v4", input=["x"] * 11, api_key=KEY, base_address=fake.api_url)
    assert (too_many.status_code, too_many.code) == (400, "InvalidParameter")
    assert "should not be larger than 10" in too_many.message


def test_rerank_best_first(fake: FakeDashScope) -> None:
    documents = ["the cat sat", "dogs bark", "a cat and a dog"]
    ranked = TextReRank.call(model="gte-rerank-v2", query="cat dog", documents=documents, top_n=2,
                             return_documents=True, api_key=KEY, base_address=fake.api_url)
    results = ranked.output["results"]
    assert [r["index"] for r in results] == [2, 0] and results[0]["document"] == {"text": documents[2]}
    assert results[0]["relevance_score"] > results[1]["relevance_score"] and ranked.usage["total_tokens"] > 0
    bare = TextReRank.call(model="gte-rerank-v2", query="cat", documents=documents, api_key=KEY,
                           base_address=fake.api_url)
    assert all(r["document"] is None for r in bare.output["results"]) and len(bare.output["results"]) == 3


def test_errors_as_the_sdk_reads_them(fake: FakeDashScope) -> None:
    wrong: Any = Generation.call(model="qwen-max", messages=user("x"), api_key="sk-wrong", base_address=fake.api_url)
    assert (wrong.status_code, wrong.code, wrong.message) == (401, "InvalidApiKey", "Invalid API-key provided.")
    unknown = generate(fake, "x", model="qwen-nope")
    assert (unknown.status_code, unknown.code, unknown.message) == (400, "InvalidParameter", "Model not exist.")
    long = generate(fake, "word " * 32_769)
    assert long.status_code == 400 and long.message == "Range of input length should be [1, 32768]"
    hot = generate(fake, f"tell me about {SENSITIVE_INPUT}")
    assert (hot.status_code, hot.code, hot.message) == (400, "DataInspectionFailed",
                                                        "Input data may contain inappropriate content.")
    said = generate(fake, f"more on {SENSITIVE_OUTPUT} now", result_format="message")
    assert (said.code, said.message) == ("DataInspectionFailed", "Output data may contain inappropriate content.")
    streamed = list(generate(fake, f"more on {SENSITIVE_OUTPUT} now", result_format="message", stream=True,
                             incremental_output=True))
    assert [p.status_code for p in streamed] == [200, 200, 400] and streamed[-1].code == "DataInspectionFailed"
    assert generate(fake, "x", temperature=2.0).message == "Range of temperature should be [0.0, 2.0)"
    nowhere = httpx.post(fake.base_url + "/api/v1/services/aigc/nothing", headers={"authorization": f"Bearer {KEY}"})
    assert (nowhere.status_code, nowhere.json()["code"]) == (400, "InvalidURL")


@pytest.mark.parametrize("code", ["Throttling.RateQuota", "Arrearage", "AccessDenied", "InternalError"])
def test_code_faults(fake: FakeDashScope, code: str) -> None:
    failed = generate(fake, "x", model=f"fault-code-{code}")
    assert (failed.status_code, failed.code, failed.message) == (CODES[code][0], code, CODES[code][1])


def test_status_garbage_cut_and_stall_faults(fake: FakeDashScope) -> None:
    limited = generate(fake, "x", model="fault-status-429")
    assert (limited.status_code, limited.code) == (429, "Throttling.RateQuota")
    busy = TextEmbedding.call(model="fault-status-503", input="x", api_key=KEY, base_address=fake.api_url)
    assert busy.status_code == 503
    headers = {"authorization": f"Bearer {KEY}"}
    garbage = httpx.post(fake.base_url + GENERATION, headers=headers,
                         json={"model": "fault-garbage", "input": {"messages": user("x")}})
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("text/html")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(fake.base_url + GENERATION, headers={**headers, "x-dashscope-sse": "enable"},
                   json={"model": "fault-cut-2", "input": {"messages": user("a b c")}})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.base_url + GENERATION, headers=headers, timeout=0.3,
                   json={"model": "fault-stall-5", "input": {"messages": user("x")}})
    assert time.monotonic() - started < 2 and fake.wait_for_disconnect()
