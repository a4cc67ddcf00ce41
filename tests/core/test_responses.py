"""Chat streams that no fake upstream sends, as Responses events: every event is validated against the openai SDK's
types and run through its stream helper's state (the rules ``client.responses.stream`` enforces), so an event out
of order, a missing field or an item never completed fails here; and input items no fake can show the placement of.
End to end: tests/server/test_responses.py."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from core.openai.responses import ResponseRequest
from core.openai.usage import Usage
from core.responses import Echo, ResponseEvents, chat_request
from core.responses.answer import new_id, read_blocks

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": index, "delta": delta or {}, "finish_reason": finish}]}


def call(index: int, call_id: str | None = None, name: str | None = None, arguments: str = "") -> dict[str, Any]:
    delta: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        delta["id"] = call_id
    if name is not None:
        delta["function"]["name"] = name
    return {"tool_calls": [delta]}


async def translate(*chunks: dict[str, Any] | bytes, usage: Usage | None = None) -> list[dict[str, Any]]:
    """The events a chat stream of ``chunks`` becomes, each checked by the SDK; the last must end the response."""
    async def source() -> AsyncIterator[bytes]:
        for piece in chunks:
            yield piece if isinstance(piece, bytes) else b"data: " + json.dumps(piece).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    echo = Echo(msgspec.convert({"model": "m", "input": "hi"}, ResponseRequest))
    written = b"".join([piece async for piece in ResponseEvents(source(), echo, lambda: usage)])
    frames = [frame for frame in written.split(b"\n\n") if frame]
    events = [json.loads(frame.split(b"\ndata: ", 1)[1]) for frame in frames]
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for frame, event in zip(frames, events, strict=True):
        assert frame.startswith(b"event: " + event["type"].encode() + b"\n")
        state.handle_event(EVENTS.validate_python(event))  # raises on what the SDK refuses
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    return events


def final(events: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = events[-1]["response"]
    return response


async def test_thinking_then_text_are_two_items() -> None:
    events = await translate(chunk({"role": "assistant", "reasoning_content": "Hm"}),
                             chunk({"reasoning_content": "m."}), chunk({"content": "Yes"}), chunk({"content": "."}),
                             chunk(finish="stop"), usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7))
    reasoning, message = final(events)["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": "Hmm."}]
    assert reasoning["encrypted_content"] is None
    assert message["content"][0]["text"] == "Yes." and message["status"] == "completed"
    assert final(events)["usage"]["output_tokens"] == 4 and final(events)["usage"]["input_tokens_details"] == {
        "cached_tokens": 0, "cache_write_tokens": 0}


async def test_a_call_without_an_id_gets_one_and_its_early_arguments() -> None:
    events = await translate(chunk(call(0, arguments='{"ci')), chunk(call(0, name="weather", arguments='ty":')),
                             chunk(call(0, arguments='"Rome"}')), chunk(finish="tool_calls"))
    [item] = final(events)["output"]
    assert item["call_id"].startswith("call_") and item["name"] == "weather"
    assert json.loads(item["arguments"]) == {"city": "Rome"}
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert deltas == item["arguments"]


async def test_a_name_in_pieces_adds_up_and_one_sent_again_stays() -> None:
    events = await translate(chunk(call(0, "call_a", "wea", "{")), chunk(call(0, name="ther", arguments="}")),
                             chunk(call(1, "call_b", "clock")), chunk(call(1, name="clock", arguments="{}")),
                             chunk(finish="tool_calls"))
    assert [item["name"] for item in final(events)["output"]] == ["weather", "clock"]


async def test_interleaved_calls_keep_every_argument() -> None:
    events = await translate(chunk(call(0, "call_a", "weather", '{"city":')), chunk(call(1, "call_b", "clock", "{")),
                             chunk(call(0, arguments='"Oslo"}')), chunk(call(1, arguments="}")),
                             chunk(finish="tool_calls"))
    first, second = final(events)["output"]
    assert (first["call_id"], first["arguments"]) == ("call_a", '{"city":"Oslo"}')
    assert (second["call_id"], second["arguments"]) == ("call_b", "{}")
    done = [e["item"]["arguments"] for e in events if e["type"] == "response.output_item.done"]
    assert done == ['{"city":"Oslo"}', "{}"]


async def test_text_refusal_and_a_truncated_call() -> None:
    events = await translate(chunk({"content": "I"}), chunk({"refusal": "cannot"}),
                             chunk(call(0, "call_a", "weather", '{"ci')), chunk(finish="length"))
    message, item = final(events)["output"]
    assert [part["type"] for part in message["content"]] == ["output_text", "refusal"]
    assert message["status"] == "completed"  # it ended before the call that the limit cut
    assert item["status"] == final(events)["status"] == "incomplete"
    assert final(events)["incomplete_details"] == {"reason": "max_output_tokens"}


async def test_signed_thinking_alone_is_a_reasoning_item_to_send_back() -> None:
    block = {"type": "redacted_thinking", "data": "sealed"}
    events = await translate(chunk({"thinking_blocks": [{"index": 0, **block}, "not a block"]}),
                             chunk({"content": "Hi"}), chunk(finish="stop"))
    reasoning, _ = final(events)["output"]
    assert reasoning["content"] == [{"type": "reasoning_text", "text": ""}]
    assert read_blocks(reasoning["encrypted_content"]) == [block]  # what it wrote, it takes back
    added = next(e for e in events if e["type"] == "response.content_part.added")
    assert added["part"] == {"type": "reasoning_text", "text": ""}


async def test_other_choices_and_empty_deltas_are_ignored() -> None:
    events = await translate(chunk({"content": "one"}), chunk({"content": "two"}, index=1),
                             {"id": "c", "choices": [{"index": 0, "delta": None, "finish_reason": None}]},
                             chunk(finish="stop"))
    [message] = final(events)["output"]
    assert message["content"][0]["text"] == "one" and final(events)["usage"] is None


async def test_an_upstream_error_event_fails_the_response_whatever_its_shape() -> None:
    for error, code in (({"message": "boom", "type": "BadRequestError", "param": None, "code": 400}, "400"),
                        ("Input validation error", None)):
        events = await translate(chunk({"content": "so far"}), {"error": error})
        failure, failed = events[-2:]
        assert failure["type"] == "error" and failure["error"]["code"] == failure["code"] == code
        assert failed["type"] == "response.failed" and failed["response"]["error"]["code"] == "server_error"
        assert failure["message"] in ("boom", "Input validation error")
        [message] = failed["response"]["output"]  # what the client was shown, cut short
        assert message["status"] == "incomplete" and message["content"][0]["text"] == "so far"


async def test_text_as_a_list_of_parts_and_an_id_that_comes_after_the_name() -> None:
    events = await translate(chunk({"content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": 5}]}),
                             chunk(call(0, name="weather", arguments="{")), chunk(call(0, "call_late", arguments="}")),
                             chunk(finish="tool_calls"))
    message, item = final(events)["output"]
    assert message["content"][0]["text"] == "Hi" and item["arguments"] == "{}"
    added = next(e["item"] for e in events if e["type"] == "response.output_item.added" and e["output_index"] == 1)
    assert added["call_id"] == item["call_id"]  # the stream helper refuses an identity that changes


async def test_an_event_that_is_not_a_chunk_fails_the_response() -> None:
    events = await translate(chunk({"content": "so far"}), b"data: {not json\n\n")
    assert events[-2]["code"] == "upstream_invalid_event" and events[-1]["type"] == "response.failed"


def test_thinking_goes_on_its_turns_assistant_message_or_is_dropped_with_its_turn() -> None:
    def thought(text: str) -> dict[str, Any]:
        return {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": text}]}

    request = msgspec.convert({"model": "m", "input": [
        {"role": "user", "content": "Hi"}, thought("cut short"), {"role": "user", "content": "Weather and time?"},
        thought("first"), {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{}"},
        thought("second"), {"type": "function_call", "call_id": "b", "name": "clock", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "b", "output": "noon"},
        thought("then"), {"role": "assistant", "content": [{"type": "output_text", "text": "Sunny at noon."}]},
    ]}, ResponseRequest)
    messages = chat_request(request, {})[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "tool", "tool", "assistant"]
    assert messages[2]["reasoning_content"] == "first\n\nsecond" and len(messages[2]["tool_calls"]) == 2
    assert messages[5] == {"role": "assistant", "content": "Sunny at noon.", "reasoning_content": "then"}
    assert all("cut short" not in str(m) for m in messages)


def test_errors_in_the_chat_request_name_the_clients_fields() -> None:
    request = msgspec.convert({"model": "m", "instructions": "Be brief.", "max_output_tokens": 9,
                               "reasoning": {"effort": "low"},
                               "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}}, "tools": [
        {"type": "function", "name": "clock"}, {"type": "function", "name": "weather"}],
        "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "weather"}]},
        "input": [
            {"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]},
            {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{"},
            {"type": "function_call", "call_id": "b", "name": "weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "a", "output": "sunny"}]}, ResponseRequest)
    chat, names = chat_request(request, {})
    assert chat_request(msgspec.convert({"model": "m", "input": "Hi"}, ResponseRequest), {})[1].of(
        "response_format") == "response_format"  # sent by the client itself: its own name
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool"]
    assert {param: names.of(param) for param in (
        "messages[0].content", "messages[1].content[0].image_url.url", "messages[2].tool_calls[1].function.arguments",
        "messages[3].content", "messages[3].tool_call_id", "messages[9]", "tools[0].function.parameters",
        "response_format.json_schema.schema", "max_completion_tokens", "reasoning_effort", "temperature", None,
    )} == {
        "messages[0].content": "instructions", "messages[1].content[0].image_url.url": "input[0].content[0].image_url",
        "messages[2].tool_calls[1].function.arguments": "input[2].arguments", "messages[3].content": "input[3].output",
        "messages[3].tool_call_id": "input[3].call_id", "messages[9]": "input", "tools[0].function.parameters":
        "tools[1].parameters", "response_format.json_schema.schema": "text.format.schema",
        "max_completion_tokens": "max_output_tokens", "reasoning_effort": "reasoning.effort",
        "temperature": "temperature", None: None}


def test_text_after_a_call_in_the_same_turn_joins_its_message() -> None:
    request = msgspec.convert({"model": "m", "input": [
        {"role": "user", "content": "Rome?"},
        {"role": "assistant", "content": "Looking."},
        {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{}"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call_output", "call_id": "a", "output": "sunny"}]}, ResponseRequest)
    messages = chat_request(request, {})[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]  # the output right after its call
    assert messages[1]["content"] == "Looking.\n\nChecking." and messages[1]["tool_calls"][0]["id"] == "a"
    cut: Any = {"model": "m", "input": [
        {"role": "user", "content": "Rome?"}, {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "a", "name": "weather", "arguments": "{}"},
        {"role": "assistant", "content": " Done."}]}
    [_, answer] = chat_request(msgspec.convert(cut, ResponseRequest), {})[0]["messages"]
    assert answer["content"] == "Let me check. Done."  # one answer cut around its call goes back as it was


def test_ids_are_unique_and_a_forked_worker_draws_its_own() -> None:
    first, second = new_id("resp"), new_id("resp")
    assert first != second and first[:21] == second[:21]  # one process: its seed, then a counter
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a worker forked from the supervisor, as server/workers.py starts them
        os.write(write, new_id("resp").encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = os.read(read, 100).decode()
    os.close(read)
    os.close(write)
    assert theirs.startswith("resp_") and theirs[:21] != first[:21]
