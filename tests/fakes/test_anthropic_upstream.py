"""Proves `FakeAnthropic` faithful: the official `anthropic` SDK (sync and async) must parse all it sends.

The SDK parses leniently (pydantic models that keep unknown fields, no validation of what it builds), so the tests
also validate the raw wire objects strictly (`model_validate_json(..., strict=True)` on the SDK's own types) and
check that they carry no field those types do not know. Every client is built with `max_retries=0`: the SDK would
otherwise retry 429, 5xx and 529 answers. The SDK sends `Authorization: Bearer <key>` and its own
`anthropic-version`; the raw tests send `x-api-key` and `2023-06-01`, as curl users do. `claude-sonnet-4-5` and
`claude-opus-4-5` make the SDK warn (they are deprecated in its table), so most tests use `claude-haiku-4-5`.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import pydantic
import pytest
import pytest_asyncio
from anthropic.types import (
    Message,
    MessageParam,
    ModelInfo,
    RawMessageStreamEvent,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolParam,
    ToolUseBlock,
)
from anthropic.types.shared import ErrorResponse

from tests.fakes.anthropic_upstream import IMAGE_TOKENS, MODELS, REDACTED_TRIGGER, FakeAnthropic

HAIKU = "claude-haiku-4-5"
HAIKU_ID = "claude-haiku-4-5-20251001"
PROMPT = "hello there my friend how are you today"
REPLY = "echo: " + PROMPT
VERSION = "2023-06-01"
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sIIBBBBB", 13, b"IHDR", 2, 2, 8, 6, 0, 0, 0)
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
}
TIME: ToolParam = {
    "name": "get_time",
    "description": "Local time in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
EVENTS = pydantic.TypeAdapter(RawMessageStreamEvent)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeAnthropic) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=fake.api_key, base_url=fake.base_url, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key=fake.api_key, base_url=fake.base_url, max_retries=0) as sdk:
        yield sdk


def _user(text: str) -> list[MessageParam]:
    return [{"role": "user", "content": text}]


def _post(fake: FakeAnthropic, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {"x-api-key": fake.api_key or "", "anthropic-version": VERSION} | (headers or {})
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as http:
        return http.post(fake.base_url + path, content=content, headers=sent)


def _get(fake: FakeAnthropic, path: str) -> httpx.Response:
    with httpx.Client() as http:
        return http.get(fake.base_url + path, headers={"x-api-key": fake.api_key or "", "anthropic-version": VERSION})


def _error(response: httpx.Response, status: int, kind: str) -> str:
    """The message of an Anthropic error envelope, checking its shape (and the SDK's type for it) on the way."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["type", "error", "request_id"] and list(body["error"]) == ["type", "message"]
    assert body["request_id"] == response.headers["request-id"] and len(body["request_id"]) == 28
    assert body["error"]["type"] == kind
    if kind != "request_too_large":  # sent by Cloudflare, not a type the SDK's ErrorResponse lists
        ErrorResponse.model_validate_json(response.text, strict=True)
    return str(body["error"]["message"])


def _message(text: str) -> Message:
    """A raw `/v1/messages` body validated strictly as the SDK's Message, with no field the SDK does not know."""
    message = Message.model_validate_json(text, strict=True)
    wire = json.loads(text)
    assert set(wire) <= set(Message.model_fields) and set(wire["usage"]) <= set(type(message.usage).model_fields)
    return message


def _blocks(message: Message) -> list[tuple[str, Any]]:
    """The content of a message without the random tool_use ids: (text, None) or (tool name, input)."""
    blocks: list[tuple[str, Any]] = []
    for block in message.content:
        match block:
            case TextBlock():
                blocks.append((block.text, None))
            case ToolUseBlock():
                blocks.append((block.name, block.input))
            case _:
                raise AssertionError(f"the fake sent a {block.type} block")
    return blocks


# --- messages -----------------------------------------------------------------------------------


def test_create_text(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    raw = client.messages.with_raw_response.create(model=HAIKU, max_tokens=100, messages=_user(PROMPT))
    message = raw.parse()
    assert [(b.type, b.text) for b in message.content if b.type == "text"] == [("text", REPLY)]
    assert (message.model, message.role, message.stop_reason, message.stop_sequence) == (
        HAIKU_ID, "assistant", "end_turn", None,
    )
    assert message.id.startswith("msg_01") and len(message.id) == 28
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (8, 9, 0)
    assert raw.request_id == raw.headers["request-id"] and raw.request_id is not None
    assert raw.request_id.startswith("req_01")
    wire = raw.http_response.json()
    assert list(wire) == ["model", "id", "type", "role", "content", "stop_reason", "stop_sequence", "usage"]
    assert _message(raw.http_response.text) == message
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/messages")
    assert recorded.headers["authorization"] == f"Bearer {fake.api_key}"
    assert recorded.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION
    assert recorded.json() == {"max_tokens": 100, "messages": _user(PROMPT), "model": HAIKU}


def test_x_api_key_and_any_dated_version(fake: FakeAnthropic) -> None:
    body = {"model": HAIKU_ID, "max_tokens": 10, "messages": _user("hi")}
    response = _post(fake, "/v1/messages", body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert _message(response.text).content[0].type == "text"
    assert _post(fake, "/v1/messages", body, {"anthropic-version": "2026-10-21"}).status_code == 200


def test_system_prompt_counts_in_the_input(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(model=HAIKU, max_tokens=50, messages=_user("hi"))
    system = client.messages.create(model=HAIKU, max_tokens=50, system="be brief please", messages=_user("hi"))
    blocks = client.messages.create(
        model=HAIKU, max_tokens=50, messages=_user("hi"),
        system=[{"type": "text", "text": "be brief"}, {"type": "text", "text": "please"}],
    )
    assert (plain.usage.input_tokens, system.usage.input_tokens, blocks.usage.input_tokens) == (1, 4, 4)
    assert _blocks(system) == _blocks(plain) == [("echo: hi", None)]


def test_max_tokens_truncates_by_words(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=HAIKU, max_tokens=3, messages=_user(PROMPT))
    assert _blocks(message) == [("echo: hello there", None)]
    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 3)
    empty = client.messages.create(model=HAIKU, max_tokens=0, messages=_user(PROMPT))  # pre-warms a cache only
    assert (empty.content, empty.stop_reason, empty.usage.output_tokens) == ([], "max_tokens", 0)


def test_stop_sequences_cut_before_the_earliest_match(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model=HAIKU, max_tokens=100, messages=_user(PROMPT), stop_sequences=["you", " friend", "zzz"]
    )
    assert _blocks(message) == [("echo: hello there my", None)]
    assert (message.stop_reason, message.stop_sequence, message.usage.output_tokens) == ("stop_sequence", " friend", 4)
    limited = client.messages.create(model=HAIKU, max_tokens=2, messages=_user(PROMPT), stop_sequences=["you"])
    assert (limited.stop_reason, limited.stop_sequence) == ("max_tokens", None)


def test_turns_merge_prefill_and_assistant_first(client: anthropic.Anthropic) -> None:
    merged = client.messages.create(
        model=HAIKU, max_tokens=50,
        messages=[{"role": "user", "content": "first part"}, {"role": "user", "content": "second part"}],
    )
    assert _blocks(merged) == [("echo: first part second part", None)]
    prefilled = client.messages.create(
        model=HAIKU, max_tokens=50,
        messages=[
            {"role": "assistant", "content": "How can I help?"},  # the first-party API accepts this, Bedrock not
            {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": "The answer is"},
        ],
    )
    assert _blocks(prefilled) == [("echo: one two", None)]
    assert prefilled.usage.input_tokens == 4 + 2 + 3


# --- tools --------------------------------------------------------------------------------------


def test_tool_use_when_a_tool_is_named(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    raw = client.messages.with_raw_response.create(
        model=HAIKU, max_tokens=200, tools=[WEATHER, TIME], messages=_user("get_weather city=Paris, please")
    )
    message = _message(raw.http_response.text)
    assert message.stop_reason == "tool_use"
    assert _blocks(message) == [("I'll use get_weather.", None), ("get_weather", {"city": "Paris", "unit": "celsius"})]
    call = message.content[1]
    assert call.type == "tool_use" and call.id.startswith("toolu_01") and len(call.id) == 30
    assert message.usage.output_tokens == 3 + 4  # the text, and json.dumps of the input
    assert fake.requests[-1].json()["tools"][0]["name"] == "get_weather"
    quiet = client.messages.create(model=HAIKU, max_tokens=50, tools=[WEATHER], messages=_user("no tool here"))
    assert (quiet.stop_reason, _blocks(quiet)) == ("end_turn", [("echo: no tool here", None)])


def test_parallel_tool_use(client: anthropic.Anthropic) -> None:
    both = client.messages.create(
        model=HAIKU, max_tokens=200, tools=[WEATHER, TIME], messages=_user("get_time and get_weather in city=Oslo")
    )
    assert _blocks(both) == [
        ("I'll use get_weather, get_time.", None),
        ("get_weather", {"city": "Oslo", "unit": "celsius"}),
        ("get_time", {"city": "Oslo"}),
    ]
    assert len({b.id for b in both.content if b.type == "tool_use"}) == 2
    single = client.messages.create(
        model=HAIKU, max_tokens=200, tools=[WEATHER, TIME], messages=_user("get_time and get_weather"),
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [name for name, _ in _blocks(single)] == ["I'll use get_weather.", "get_weather"]


@pytest.mark.parametrize(
    ("choice", "text", "names"),
    [
        ({"type": "any"}, "nothing named", ["get_weather"]),  # forced: no text block before the calls
        ({"type": "any"}, "get_time", ["get_time"]),
        ({"type": "tool", "name": "get_time"}, "get_weather", ["get_time"]),
        ({"type": "none"}, "get_weather", ["echo: get_weather"]),
    ],
)
def test_tool_choice(client: anthropic.Anthropic, choice: Any, text: str, names: list[str]) -> None:
    message = client.messages.create(
        model=HAIKU, max_tokens=100, tools=[WEATHER, TIME], tool_choice=choice, messages=_user(text)
    )
    assert [name for name, _ in _blocks(message)] == names
    assert message.stop_reason == ("end_turn" if choice["type"] == "none" else "tool_use")


def test_tool_result_round_trip(client: anthropic.Anthropic) -> None:
    question: MessageParam = {"role": "user", "content": "get_weather get_time city=Rome"}
    asked = client.messages.create(model=HAIKU, max_tokens=200, tools=[WEATHER, TIME], messages=[question])
    ids = [b.id for b in asked.content if b.type == "tool_use"]
    answer = client.messages.create(
        model=HAIKU, max_tokens=200, tools=[WEATHER, TIME],
        messages=[
            question,
            asked.to_param(),
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": ids[0], "content": "sunny, 24 C"},
                {"type": "tool_result", "tool_use_id": ids[1], "content": [{"type": "text", "text": "closed"}],
                 "is_error": True},
            ]},
        ],
    )
    assert answer.stop_reason == "end_turn"
    assert _blocks(answer) == [("results: get_weather returned sunny, 24 C; get_time failed closed", None)]


THINK: anthropic.types.ThinkingConfigParam = {"type": "enabled", "budget_tokens": 1024}


def test_thinking_comes_first_signed_and_counts_as_output(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    raw = client.messages.with_raw_response.create(model=HAIKU, max_tokens=2000, thinking=THINK,
                                                   messages=_user(PROMPT))
    message = _message(raw.http_response.text)
    thought, text = message.content
    assert isinstance(thought, ThinkingBlock) and isinstance(text, TextBlock)
    assert thought.thinking == f"Let me think about {PROMPT}." and thought.signature
    assert text.text == REPLY
    assert message.usage.output_tokens == len(thought.thinking.split()) + len(REPLY.split())
    plain = client.messages.create(model=HAIKU, max_tokens=2000, messages=_user(PROMPT))
    assert [b.type for b in plain.content] == ["text"]  # no thinking unless asked
    omitted = client.messages.create(model=HAIKU, max_tokens=2000, messages=_user(PROMPT),
                                     thinking={"type": "adaptive", "display": "omitted"})
    assert isinstance(omitted.content[0], ThinkingBlock) and omitted.content[0].thinking == ""
    assert omitted.content[0].signature


def test_streamed_thinking_is_assembled_with_its_signature(client: anthropic.Anthropic) -> None:
    whole = client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=_user(PROMPT))
    with client.messages.stream(model=HAIKU, max_tokens=2000, thinking=THINK, messages=_user(PROMPT)) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.model_dump(exclude={"id"}) == whole.model_dump(exclude={"id"})
    assert kinds.count("thinking") == 4 and kinds.count("signature") == 1  # 12 words, 3 a delta
    assert kinds.index("signature") < kinds.index("text")


def test_the_documented_trigger_answers_redacted_thinking_and_sampling_must_stay_default(
        client: anthropic.Anthropic) -> None:
    asked = _user(f"{REDACTED_TRIGGER} hi")
    raw = client.messages.with_raw_response.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=asked)
    message = _message(raw.http_response.text)
    assert [b.type for b in message.content] == ["redacted_thinking", "thinking", "text"]
    assert isinstance(message.content[0], RedactedThinkingBlock) and message.content[0].data
    with client.messages.stream(model=HAIKU, max_tokens=2000, thinking=THINK, messages=asked) as stream:
        final = stream.get_final_message()
    assert final.model_dump(exclude={"id"}) == message.model_dump(exclude={"id"})
    again = client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=[
        *asked, message.to_param(), {"role": "user", "content": "and now?"}])
    assert again.content[-1].type == "text" and again.content[-1].text == "echo: and now?"
    assert message.usage.output_tokens == sum(len(t.split()) for t in (
        f"Thinking about {REDACTED_TRIGGER} hi in secret.", f"Let me think about {REDACTED_TRIGGER} hi.",
        f"echo: {REDACTED_TRIGGER} hi"))  # the redacted thinking is billed too
    changed: list[Any] = [block.model_dump() for block in message.content]
    changed[0]["data"] = base64.b64encode(b"something else\nnot signed").decode()
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.1\.content\.0: Invalid `data` in "
                       r"`redacted_thinking` block"):
        client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=[
            *asked, {"role": "assistant", "content": changed}, {"role": "user", "content": "and now?"}])
    for sampling, problem in (({"temperature": 0.5}, "`temperature` may only be set to 1 when thinking is enabled"),
                              ({"top_k": 5}, "`top_k` must be unset when thinking is enabled"),
                              ({"top_p": 0.5}, "`top_p` must be greater than or equal to 0.95")):
        with pytest.raises(anthropic.BadRequestError, match=problem):
            client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=_user(PROMPT),
                                   extra_body=sampling)  # this SDK's create() no longer takes sampling parameters
    client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, messages=_user(PROMPT),
                           extra_body={"temperature": 1, "top_p": 0.95})


def test_prompt_and_max_tokens_must_fit_the_window(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match=r"input length and `max_tokens` exceed context limit: "
                       r"136001 \+ 64000 > 200000, decrease input length or `max_tokens` and try again"):
        client.messages.create(model=HAIKU, max_tokens=64000, messages=_user("word " * 136_001), timeout=30)
    client.messages.create(model=HAIKU, max_tokens=63_999, messages=_user("word " * 136_001), timeout=30)
    # (with a timeout of its own, the SDK does not ask for streaming for a large max_tokens)


def test_thinking_blocks_go_back_unchanged_in_a_tool_loop(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    question: MessageParam = {"role": "user", "content": "get_weather city=Rome"}
    asked = client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, tools=[WEATHER],
                                   messages=[question])
    assert [b.type for b in asked.content] == ["thinking", "text", "tool_use"]
    call = next(b for b in asked.content if isinstance(b, ToolUseBlock))
    result: MessageParam = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}
    answer = client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, tools=[WEATHER],
                                    messages=[question, asked.to_param(), result])
    assert [b.type for b in answer.content] == ["thinking", "text"]
    assert answer.content[1].type == "text" and answer.content[1].text == "results: get_weather returned sunny"
    blocks: list[Any] = [block.model_dump() for block in asked.content]
    without: MessageParam = {"role": "assistant", "content": blocks[1:]}
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.1\.content\.0\.type: Expected `thinking` or "
                       r"`redacted_thinking`, but found `text`"):
        client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, tools=[WEATHER],
                               messages=[question, without, result])
    changed: MessageParam = {"role": "assistant", "content": [blocks[0] | {"thinking": "Or not.."}, *blocks[1:]]}
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.1\.content\.0: Invalid `signature` in "
                       r"`thinking` block"):
        client.messages.create(model=HAIKU, max_tokens=2000, thinking=THINK, tools=[WEATHER],
                               messages=[question, changed, result])
    # Thinking off: older thinking blocks are fine, but not in a final assistant prefill.
    client.messages.create(model=HAIKU, max_tokens=2000, tools=[WEATHER], messages=[question, asked.to_param(), result])
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.1\.content\.0: When thinking is disabled"):
        client.messages.create(model=HAIKU, max_tokens=2000,
                               messages=[question, {"role": "assistant", "content": blocks[:1]}])


def test_tool_use_and_result_pairing_is_enforced(fake: FakeAnthropic) -> None:
    call = {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "x"}}
    unanswered = [{"role": "user", "content": "q"}, {"role": "assistant", "content": [call]},
                  {"role": "user", "content": "next"}]
    body = {"model": HAIKU, "max_tokens": 10, "tools": [WEATHER], "messages": unanswered}
    assert _error(_post(fake, "/v1/messages", body), 400, "invalid_request_error") == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01A. Each "
        "`tool_use` block must have a corresponding `tool_result` block in the next message."
    )
    orphan = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01B", "content": "x"}]}]
    body = {"model": HAIKU, "max_tokens": 10, "messages": orphan}
    assert _error(_post(fake, "/v1/messages", body), 400, "invalid_request_error") == (
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01B. Each `tool_result` "
        "block must have a corresponding `tool_use` block in the previous message."
    )


# --- images and caching -------------------------------------------------------------------------


def test_images(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    data = base64.b64encode(PNG).decode()
    message = client.messages.create(
        model=HAIKU, max_tokens=50,
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": "what are these"},
        ]}],
    )
    assert _blocks(message) == [("echo: what are these [images: 2]", None)]
    assert message.usage.input_tokens == 2 * IMAGE_TOKENS + 3
    document = client.messages.create(
        model=HAIKU, max_tokens=50,
        messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "three words here"}},
            {"type": "text", "text": "summarise"},
        ]}],
    )
    assert _blocks(document) == [("echo: summarise [documents: 1]", None)]
    assert document.usage.input_tokens == 3 + 1
    bad = {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": data}}
    body = {"model": HAIKU, "max_tokens": 10, "messages": [{"role": "user", "content": [bad]}]}
    assert _error(_post(fake, "/v1/messages", body), 400, "invalid_request_error") == (
        "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
        "'image/gif' or 'image/webp'"
    )


def test_prompt_caching(client: anthropic.Anthropic) -> None:
    text = "you are a careful assistant " * 4  # 20 words
    system: Any = [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model=HAIKU, max_tokens=20, system=system, messages=_user("hi there"))
    usage = first.usage
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens, usage.input_tokens) == (20, 0, 2)
    assert usage.cache_creation is not None and usage.cache_creation.ephemeral_5m_input_tokens == 20
    second = client.messages.create(model=HAIKU, max_tokens=20, system=system, messages=_user("other question"))
    usage = second.usage
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens, usage.input_tokens) == (0, 20, 2)
    extended = client.messages.create(
        model=HAIKU, max_tokens=20, system=system, messages=_user("a longer question now"),
        cache_control={"type": "ephemeral", "ttl": "1h"},  # top level: the last block is a breakpoint too
    )
    usage = extended.usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens, usage.input_tokens) == (20, 4, 0)
    assert usage.cache_creation is not None and usage.cache_creation.ephemeral_1h_input_tokens == 4
    other_model = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, system=system,
                                         messages=_user("hi there"))
    assert other_model.usage.cache_creation_input_tokens == 20  # caches are per model


# --- streaming ----------------------------------------------------------------------------------


def test_stream_matches_the_non_streamed_message(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    whole = client.messages.create(model=HAIKU, max_tokens=100, messages=_user(PROMPT))
    with client.messages.stream(model=HAIKU, max_tokens=100, messages=_user(PROMPT)) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == ["echo: hello there ", "my friend how ", "are you today"]
    assert final.model_dump(exclude={"id"}) == whole.model_dump(exclude={"id"})
    assert fake.requests[-1].json()["stream"] is True


def test_stream_tool_use_input_is_assembled(client: anthropic.Anthropic) -> None:
    tools = [WEATHER, TIME]
    text = "get_weather and get_time for city=Lisbon"
    whole = client.messages.create(model=HAIKU, max_tokens=100, tools=tools, messages=_user(text))
    with client.messages.stream(model=HAIKU, max_tokens=100, tools=tools, messages=_user(text)) as stream:
        partials = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    assert _blocks(final) == _blocks(whole) and final.stop_reason == "tool_use"
    assert final.usage.model_dump() == whole.usage.model_dump()
    assert len(partials) == 2 * 4  # per call: an empty delta first, as the API sends, then the input in 3 pieces
    assert partials[0] == "" and "".join(partials[:4]) == json.dumps({"city": "Lisbon", "unit": "celsius"})


def test_raw_event_order(client: anthropic.Anthropic) -> None:
    events = list(client.messages.create(
        model=HAIKU, max_tokens=100, tools=[WEATHER], messages=_user("get_weather"), stream=True
    ))
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_stop",  # "I'll use get_weather."
        "content_block_start", *["content_block_delta"] * 4, "content_block_stop",
        "message_delta", "message_stop",
    ]
    start, delta = events[0], events[-2]
    assert start.type == "message_start" and start.message.content == [] and start.message.stop_reason is None
    assert start.message.usage.output_tokens == 1
    assert delta.type == "message_delta" and delta.delta.stop_reason == "tool_use"
    tool_start = events[4]
    assert tool_start.type == "content_block_start" and tool_start.content_block.type == "tool_use"
    assert tool_start.content_block.input == {}


def test_sse_framing(fake: FakeAnthropic) -> None:
    body = {"model": HAIKU, "max_tokens": 100, "messages": _user("hi you"), "stream": True}
    response = _post(fake, "/v1/messages", body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in response.headers and response.headers["request-id"].startswith("req_01")
    assert response.text.endswith("\n\n")
    frames = response.text.split("\n\n")[:-1]
    names = []
    for text in frames:
        event, data = text.split("\n")
        name, payload = event.removeprefix("event: "), json.loads(data.removeprefix("data: "))
        assert payload["type"] == name
        if name != "ping":
            EVENTS.validate_json(data.removeprefix("data: "), strict=True)
        names.append(name)
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    delta = json.loads(frames[5].split("\n")[1].removeprefix("data: "))
    assert delta == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                     "usage": {"input_tokens": 2, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                               "output_tokens": 3}}


def test_stream_error_event_raises(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="fault-stream-error", max_tokens=100, messages=_user(PROMPT)) as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta", "text"]
    assert caught.value.type == "overloaded_error" and caught.value.api_message == "Overloaded"
    assert caught.value.status_code == 200  # the error came after the 200 headers
    body = {"model": "fault-stream-error", "max_tokens": 100, "messages": _user(PROMPT), "stream": True}
    last = _post(fake, "/v1/messages", body).text.split("\n\n")[-2]
    assert last == 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model="fault-stream-error", max_tokens=100, messages=_user(PROMPT))


# --- errors -------------------------------------------------------------------------------------


def test_authentication(fake: FakeAnthropic) -> None:
    with (
        anthropic.Anthropic(api_key="wrong", base_url=fake.base_url, max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        sdk.messages.create(model=HAIKU, max_tokens=10, messages=_user("hi"))
    assert caught.value.api_message == "invalid x-api-key" and caught.value.type == "authentication_error"
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req_01")
    body = {"model": HAIKU, "max_tokens": 10, "messages": _user("hi")}
    wrong = _post(fake, "/v1/messages", body, {"x-api-key": "nope"})
    assert _error(wrong, 401, "authentication_error") == "invalid x-api-key"
    assert wrong.headers["x-should-retry"] == "false"
    with httpx.Client() as http:
        missing = http.post(fake.base_url + "/v1/messages", json=body, headers={"anthropic-version": VERSION})
        assert _error(missing, 401, "authentication_error") == "x-api-key header is required"
        no_version = http.get(fake.base_url + "/v1/models", headers={"x-api-key": fake.api_key or ""})
        assert _error(no_version, 400, "invalid_request_error") == "anthropic-version: header is required"


@pytest.mark.parametrize(
    ("status", "error", "kind", "message"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error", "messages: text content blocks must be non-empty"),
        (401, anthropic.AuthenticationError, "authentication_error", "invalid x-api-key"),
        (403, anthropic.PermissionDeniedError, "permission_error", "Your API key does not have permission"),
        (404, anthropic.NotFoundError, "not_found_error", "model: fault-status-404"),
        (413, anthropic.ContentTooLargeError, "request_too_large", "Request exceeds the maximum allowed number"),
        (429, anthropic.RateLimitError, "rate_limit_error", "This request would exceed your organization's rate"),
        (500, anthropic.InternalServerError, "api_error", "Internal server error"),
        (529, anthropic.OverloadedError, "overloaded_error", "Overloaded"),
    ],
)
def test_fault_status_raises_the_sdk_error(
    client: anthropic.Anthropic, fake: FakeAnthropic, status: int, error: type[anthropic.APIStatusError], kind: str,
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        client.messages.create(model=f"fault-status-{status}", max_tokens=10, messages=_user("hi"))
    assert (caught.value.status_code, caught.value.type) == (status, kind)
    assert (caught.value.api_message or "").startswith(message)
    headers = caught.value.response.headers
    assert headers["x-should-retry"] == ("true" if status >= 429 else "false")
    assert ("retry-after" in headers) == (status == 429)
    assert len(fake.requests) == 1  # max_retries=0: the SDK did not retry


def test_rate_limit_headers(fake: FakeAnthropic) -> None:
    response = _post(fake, "/v1/messages", {"model": "fault-status-429", "max_tokens": 1, "messages": _user("x")})
    _error(response, 429, "rate_limit_error")
    assert response.headers["retry-after"] == "1"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "0"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": "10"}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": 64001}, "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens "
                                "for claude-haiku-4-5-20251001"),
        ({"model": None}, "model: Field required"),
        ({"messages": None}, "messages: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        ({"messages": [{"role": "human", "content": "x"}]}, "messages.0.role: Input should be 'user' or 'assistant'"),
        ({"messages": [{"role": "system", "content": "x"}]},
         'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" '
         "as an input message role."),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"messages": [{"role": "user", "content": ""}]},
         "messages.0: all messages must have non-empty content except for the optional final assistant message"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]},
         "messages: text content blocks must contain non-whitespace text"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]},
         "messages.0.content.0: Input tag 'video' found using 'type' does not match any of the expected tags: 'text', "
         "'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a "}]},
         "messages: final assistant content cannot end with trailing whitespace"),
        ({"system": [{"type": "image"}]}, "system.0.type: Input should be 'text'"),
        ({"tools": [{"name": "bad name", "input_schema": {"type": "object"}}]},
         "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"),
        ({"tools": [{"name": "t"}]}, "tools.0.custom.input_schema: Field required"),
        ({"tools": [WEATHER, WEATHER]}, "tools: Tool names must be unique."),
        ({"tool_choice": {"type": "any"}}, "tool_choice: `any` may only be specified while providing tools"),
        ({"tool_choice": {"type": "maybe"}}, "tool_choice: Input tag 'maybe' found using 'type' does not match any "
                                             "of the expected tags: 'auto', 'any', 'tool', 'none'"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}},
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}},
         "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
         "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"),
        ({"temperature": 1.5}, "temperature: Input should be a number between 0 and 1"),
        ({"stream": "yes"}, "stream: Input should be a valid boolean"),
        ({"frequency_penalty": 1}, "frequency_penalty: Extra inputs are not permitted"),
        ({"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "ttl": "1d"}}]},
         "system.0.cache_control.ephemeral.ttl: Input should be '5m' or '1h'"),
        ({"messages": [{"role": "user", "content": [
            {"type": "text", "text": f"t{i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]}]},
         "A maximum of 4 blocks with cache_control may be provided. Found 5."),
    ],
)
def test_validation_errors(fake: FakeAnthropic, body: dict[str, Any], message: str) -> None:
    request = {"model": HAIKU, "max_tokens": 1024, "messages": _user("hi")} | body
    request = {key: value for key, value in request.items() if value is not None}
    assert _error(_post(fake, "/v1/messages", request), 400, "invalid_request_error") == message


def test_validation_errors_raise_bad_request(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=HAIKU, max_tokens=10, messages=[])
    assert caught.value.api_message == "messages: at least one message is required"
    assert caught.value.type == "invalid_request_error"


def test_models_and_routes(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="gpt-4o", max_tokens=10, messages=_user("hi"))
    assert caught.value.api_message == "model: gpt-4o" and caught.value.type == "not_found_error"
    adhoc = client.messages.create(model="claude-opus-9", max_tokens=10, messages=_user("hi"))
    assert adhoc.model == "claude-opus-9"  # any claude-* id answers, echoed as given
    assert _error(_post(fake, "/v1/chat/completions", {}), 404, "not_found_error") == "Not Found"
    wrong_method = _get(fake, "/v1/messages")
    assert _error(wrong_method, 405, "invalid_request_error") == "Method Not Allowed"
    assert wrong_method.headers["allow"] == "POST"
    assert _error(_post(fake, "/v1/messages", b"{not json"), 400, "invalid_request_error").startswith(
        "There was an issue with the format of your request"
    )


# --- count_tokens and models --------------------------------------------------------------------


def test_count_tokens(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    question = _user("get_weather city=Paris")
    counted = client.messages.count_tokens(model=HAIKU, messages=question, tools=[WEATHER], system="be brief")
    created = client.messages.create(model=HAIKU, max_tokens=50, messages=question, tools=[WEATHER], system="be brief")
    assert counted.input_tokens == created.usage.input_tokens > 4
    assert fake.requests[0].path == "/v1/messages/count_tokens"
    assert _post(fake, "/v1/messages/count_tokens", {"model": HAIKU, "messages": question}).json() == {
        "input_tokens": 2
    }
    extra = {"model": HAIKU, "messages": question, "max_tokens": 10}
    assert _error(_post(fake, "/v1/messages/count_tokens", extra), 400, "invalid_request_error") == (
        "max_tokens: Extra inputs are not permitted"
    )


def test_models_list_get_and_pages(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    page = client.models.list()
    assert [m.id for m in page.data] == [m.id for m in MODELS]
    assert (page.has_more, page.first_id, page.last_id) == (False, MODELS[0].id, MODELS[-1].id)
    assert [m.id for m in client.models.list(limit=2)] == [m.id for m in MODELS]  # iterating fetches every page
    assert [r.query for r in fake.requests[1:]] == [
        "limit=2", f"limit=2&after_id={MODELS[1].id}", f"limit=2&after_id={MODELS[3].id}",
    ]
    before = client.models.list(before_id=MODELS[3].id, limit=2)
    assert [m.id for m in before.data] == [MODELS[1].id, MODELS[2].id] and before.has_more
    deprecated = client.models.list(lifecycle=["deprecated"])
    assert [m.id for m in deprecated.data] == ["claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"]
    model = client.models.retrieve(HAIKU)  # an alias answers its dated model
    assert (model.id, model.display_name, model.lifecycle, model.line, model.max_tokens) == (
        HAIKU_ID, "Claude Haiku 4.5", "active", "haiku", 64000,
    )
    raw = _get(fake, "/v1/models/claude-sonnet-4-5-20250929")
    info = ModelInfo.model_validate_json(raw.text, strict=True)
    assert info.lifecycle == "deprecated" and info.retires_at is not None and info.retires_at.year == 2026
    assert set(raw.json()) <= set(ModelInfo.model_fields)
    listed = _get(fake, "/v1/models?limit=1000").json()
    assert list(listed) == ["data", "has_more", "first_id", "last_id"]
    for item in listed["data"]:
        ModelInfo.model_validate_json(json.dumps(item), strict=True)
        assert set(item) <= set(ModelInfo.model_fields)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-nope")
    assert caught.value.api_message == "model: claude-nope"
    with pytest.raises(anthropic.BadRequestError):
        client.models.list(limit=0)


def test_deprecated_models_answer_and_the_sdk_warns(client: anthropic.Anthropic) -> None:
    with pytest.warns(DeprecationWarning, match="claude-sonnet-4-5"):
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=_user("hi"))
    assert message.model == "claude-sonnet-4-5-20250929"


# --- faults -------------------------------------------------------------------------------------


def test_fault_context(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="fault-context", max_tokens=10, messages=_user("four words are here"))
    assert caught.value.api_message == "prompt is too long: 200004 tokens > 200000 maximum"


def test_fault_stall(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="fault-stall-5", max_tokens=10, messages=_user("x"), timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)  # the fake saw the client give up while it stalled
    quick = client.messages.create(model="fault-stall-0.1", max_tokens=10, messages=_user("x"))
    assert _blocks(quick) == [("echo: x", None)] and quick.model == "fault-stall-0.1"


def test_fault_garbage(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    # By default the SDK hands back a non-JSON body as text; with strict response validation it raises.
    with (
        anthropic.Anthropic(api_key=fake.api_key, base_url=fake.base_url, max_retries=0,
                            _strict_response_validation=True) as strict,
        pytest.raises(anthropic.APIResponseValidationError) as caught,
    ):
        strict.messages.create(model="fault-garbage", max_tokens=10, messages=_user("x"))
    assert caught.value.status_code == 200 and caught.value.body == "<html>502 Bad Gateway</html>"
    with (
        pytest.raises(json.JSONDecodeError),
        client.messages.stream(model="fault-garbage", max_tokens=10, messages=_user("x")) as stream,
    ):
        stream.get_final_message()


def test_fault_cut(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model="fault-cut-1", max_tokens=10, messages=_user("x"))
    seen: list[str] = []
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        client.messages.stream(model="fault-cut-3", max_tokens=10, messages=_user("x y")) as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start"]  # the third event, a ping, is not surfaced


# --- async client and harness -------------------------------------------------------------------


async def test_async_client(aclient: anthropic.AsyncAnthropic, fake: FakeAnthropic) -> None:
    message = await aclient.messages.create(model=HAIKU, max_tokens=100, messages=_user(PROMPT))
    assert _blocks(message) == [(REPLY, None)]
    async with aclient.messages.stream(model=HAIKU, max_tokens=100, tools=[TIME],
                                       messages=_user("get_time city=Lima")) as stream:
        final = await stream.get_final_message()
    assert _blocks(final) == [("I'll use get_time.", None), ("get_time", {"city": "Lima"})]
    assert [m.id async for m in aclient.models.list(limit=3)] == [m.id for m in MODELS]
    assert (await aclient.messages.count_tokens(model=HAIKU, messages=_user(PROMPT))).input_tokens == 8
    with pytest.raises(anthropic.RateLimitError):
        await aclient.messages.create(model="fault-status-429", max_tokens=10, messages=_user("x"))
    assert [r.headers["x-stainless-async"] for r in fake.requests] == ["async:asyncio"] * 6


def test_lifecycle_and_clear() -> None:
    other = FakeAnthropic(api_key=None)  # no key check
    with other as started:
        assert started is other and other.base_url == f"http://127.0.0.1:{other.port}"
        body = {"model": HAIKU, "max_tokens": 5, "messages": _user("x")}
        with httpx.Client() as http:
            response = http.post(other.base_url + "/v1/messages", json=body, headers={"anthropic-version": VERSION})
        assert response.status_code == 200 and len(other.requests) == 1
        other.clear()
        assert other.requests == [] and other.disconnects == 0
        port = other.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")
