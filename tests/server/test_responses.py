"""``/v1/responses`` end to end: the openai SDK's Responses API through the gateway, answered by a chat model (the
fake OpenAI's chat completions here; Claude's thinking in tests/server/test_anthropic.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseInputItemParam,
    ResponseOutputMessage,
)

from tests.conftest import GATEWAY_KEY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

MODEL = "openai/gpt-4o-mini"
WEATHER: FunctionToolParam = {
    "type": "function", "name": "weather", "description": "Weather in a city", "strict": False,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CLOCK: FunctionToolParam = {"type": "function", "name": "clock", "parameters": {"type": "object", "properties": {}},
                            "strict": None}


@pytest.fixture
def strict(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    """The SDK validating every answer against its types: a field the API always writes, missing, fails it."""
    with openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0,
                       _strict_response_validation=True) as sdk:
        yield sdk


def sent(upstream: FakeOpenAI) -> dict[str, Any]:
    """The chat request the last response became."""
    request = upstream.requests[-1]
    assert request.path == "/v1/chat/completions"
    body: dict[str, Any] = request.json()
    return body


def test_a_text_response_comes_from_a_chat_completion(strict: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.clear()
    raw = strict.responses.with_raw_response.create(model=MODEL, input="Say hello", instructions="Be brief.",
                                                     max_output_tokens=50, temperature=0.5,
                                                     metadata={"team": "search"})
    response = raw.parse()
    assert response.output_text == "echo: Say hello"
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    assert (response.model_extra or {})["store"] is False and response.instructions == "Be brief."
    assert response.metadata == {"team": "search"}
    [message] = response.output
    assert message.type == "message" and message.status == "completed" and message.id.startswith("msg_")
    chat = sent(upstream)
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    # The model's rules name the limit max_tokens (o3's: max_completion_tokens, below).
    assert chat["max_tokens"] == 50 and chat["temperature"] == 0.5 and "metadata" not in chat
    usage = response.usage
    assert usage is not None and usage.input_tokens == 4 and usage.output_tokens == 3 and usage.total_tokens == 7
    assert raw.headers["x-model-runtime-deployment"] == "openai/gpt-4o-mini" and raw.headers["x-model-runtime-cost"]


def test_a_streamed_response_is_the_same_response_event_by_event(strict: openai.OpenAI) -> None:
    whole = strict.responses.create(model=MODEL, input="Tell me about the sea")
    with strict.responses.stream(model=MODEL, input="Tell me about the sea") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == whole.output_text == final.output_text
    assert [event.sequence_number for event in events] == list(range(len(events)))
    lifecycle = [event for event in events if isinstance(event, ResponseCreatedEvent | ResponseCompletedEvent)]
    assert len(lifecycle) == 2 and {event.response.id for event in lifecycle} == {final.id}
    assert final.usage is not None and whole.usage is not None
    assert final.usage.output_tokens == whole.usage.output_tokens > 1


def test_function_calls_and_their_outputs_make_a_tool_loop(strict: openai.OpenAI, upstream: FakeOpenAI) -> None:
    question = "Use weather. city=Rome"
    first = strict.responses.create(model=MODEL, input=question, tools=[WEATHER, CLOCK])
    calls = [item for item in first.output if isinstance(item, ResponseFunctionToolCall)]
    assert [call.name for call in calls] == ["weather", "clock"] and len(first.output) == 2
    assert all((call.id or "").startswith("fc_") and call.call_id.startswith("call_") for call in calls)
    assert json.loads(calls[0].arguments) == {"echo": question} and first.output_text == ""
    assert sent(upstream)["tools"][0] == {"type": "function", "function": {
        "name": "weather", "description": "Weather in a city", "parameters": WEATHER["parameters"], "strict": False}}
    # The agent's next turn, as the SDK documents it: the output items back, then each call's output.
    history: list[ResponseInputItemParam] = [{"role": "user", "content": question}]
    history += [call.model_dump(exclude_none=True) for call in calls]  # type: ignore[misc]
    history += [{"type": "function_call_output", "call_id": call.call_id, "output": f"{call.name}: fine"}
                for call in calls]
    second = strict.responses.create(model=MODEL, input=history, tools=[WEATHER, CLOCK], tool_choice="none")
    assert second.output_text == "echo: Use weather. city=Rome"
    messages = sent(upstream)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == [call.call_id for call in calls]
    assert messages[2] == {"role": "tool", "tool_call_id": calls[0].call_id, "content": "weather: fine"}


def test_streamed_function_calls_arrive_as_argument_deltas(strict: openai.OpenAI) -> None:
    with strict.responses.stream(model=MODEL, input="Use weather. city=Oslo", tools=[WEATHER, CLOCK]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    added = [event.output_index for event in events if event.type == "response.output_item.added"]
    assert added == [0, 1]
    arguments = "".join(event.delta for event in events
                        if event.type == "response.function_call_arguments.delta" and event.output_index == 0)
    calls = [item for item in final.output if isinstance(item, ResponseFunctionToolCall)]
    assert [call.name for call in calls] == ["weather", "clock"] and all(call.status == "completed" for call in calls)
    assert json.loads(arguments) == json.loads(calls[0].arguments) == {"echo": "Use weather. city=Oslo"}


def test_tool_choice_and_structured_output_become_their_chat_forms(client: openai.OpenAI,
                                                                    upstream: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    client.responses.create(model=MODEL, input="Which city?", reasoning={"effort": "low"},
                            text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}})
    chat = sent(upstream)
    assert chat["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "place", "schema": schema, "strict": True}}
    assert chat["reasoning_effort"] == "low" and "tools" not in chat
    forced = client.responses.create(model=MODEL, input="Use weather. city=Rome", tools=[WEATHER, CLOCK],
                                     tool_choice={"type": "function", "name": "clock"}, parallel_tool_calls=False)
    assert sent(upstream)["tool_choice"] == {"type": "function", "function": {"name": "clock"}}
    assert [item.name for item in forced.output if isinstance(item, ResponseFunctionToolCall)] == ["clock"]
    assert forced.tool_choice.type == "function" and forced.parallel_tool_calls is False  # type: ignore[union-attr]
    client.responses.create(model=MODEL, input="Use a tool", tools=[WEATHER, CLOCK],
                            tool_choice={"type": "allowed_tools", "mode": "required",
                                         "tools": [{"type": "function", "name": "weather"}]})
    chat = sent(upstream)
    assert [t["function"]["name"] for t in chat["tools"]] == ["weather"] and chat["tool_choice"] == "required"


def test_images_and_assistant_turns_in_the_input(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    response = client.responses.create(model=MODEL, input=[
        {"role": "user", "content": "Hi"},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                     {"type": "input_image", "image_url": image, "detail": "low"}]}])
    assert response.output_text == "echo: What is this? [images: 1]"
    assert sent(upstream)["messages"] == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": image, "detail": "low"}}]}]


def test_the_limit_and_the_fields_of_neither_api_go_on_as_the_model_takes_them(client: openai.OpenAI,
                                                                                upstream: FakeOpenAI) -> None:
    client.responses.create(model="openai/o3", input="Hi", max_output_tokens=40, parallel_tool_calls=False,
                            include=["reasoning.encrypted_content"], store=False, stream_options=None,
                            extra_body={"seed": 7, "max_tool_calls": 3, "n": 3})
    chat = sent(upstream)
    assert chat["max_completion_tokens"] == 40 and chat["seed"] == 7 and "max_tokens" not in chat
    # A tool setting without tools is a 400 on OpenAI's chat API (its fake's too), Responses-only fields stay, and
    # so does a chat field asking for more than a response holds (n choices).
    assert not {"parallel_tool_calls", "include", "store", "max_tool_calls", "stream_options", "n"} & set(chat)


def test_a_stream_asks_for_usage_only_where_its_provider_may(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    # The generic instance "up" is not asked for stream usage (servers refuse stream_options); openai/ is.
    with client.responses.stream(model="up/gpt-4o-mini", input="Say hi") as stream:
        assert stream.get_final_response().usage is None
    assert "stream_options" not in sent(upstream)
    with client.responses.stream(model=MODEL, input="Say hi") as stream:
        usage = stream.get_final_response().usage
    assert usage is not None and usage.input_tokens == 2 and sent(upstream)["stream_options"] == {
        "include_usage": True}


def test_one_turns_items_make_one_assistant_message_openai_takes(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    call_a: ResponseInputItemParam = {"type": "function_call", "call_id": "call_a", "name": "weather",
                                      "arguments": "{}"}
    call_b: ResponseInputItemParam = {"type": "function_call", "call_id": "call_b", "name": "clock",
                                      "arguments": "{}"}
    thought: ResponseInputItemParam = {"type": "reasoning", "id": "rs_1", "summary": [
        {"type": "summary_text", "text": "Two calls."}]}
    abandoned: ResponseInputItemParam = {"type": "reasoning", "id": "rs_0", "summary": [
        {"type": "summary_text", "text": "Cut short."}]}
    client.responses.create(model=MODEL, input=[
        {"role": "user", "content": "Hi"}, abandoned, {"role": "user", "content": "Weather and time?"},
        call_a, thought, call_b,
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "noon"}]}])
    messages = sent(upstream)["messages"]
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["call_a", "call_b"]
    assert messages[4]["content"] == [{"type": "text", "text": "noon"}]


def test_a_response_cut_by_max_output_tokens_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="Tell me about the sea and the sky", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details is not None
    [message] = response.output
    assert response.incomplete_details.reason == "max_output_tokens"
    assert isinstance(message, ResponseOutputMessage) and message.status == "incomplete"
    with client.responses.stream(model=MODEL, input="Tell me about the sea and the sky", max_output_tokens=2) as s:
        events = list(s)
    last = events[-1]
    assert last.type == "response.incomplete" and last.response.output_text == response.output_text


@pytest.mark.parametrize(("extra", "param", "code"), [
    ({"previous_response_id": "resp_123"}, "previous_response_id", "unsupported_parameter"),
    ({"conversation": "conv_123"}, "conversation", "unsupported_parameter"),
    ({"background": True}, "background", "unsupported_parameter"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_value"),
    ({"tool_choice": {"type": "file_search"}}, "tool_choice.type", "unsupported_value"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "unsupported_value"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}]},
     "input[0].content[0].image_url", "unsupported_value"),
    ({"input": [{"type": "function_call", "name": "weather", "arguments": "{}"}]}, "input[0].call_id",
     "missing_required_parameter"),
    ({"input": []}, "input", "empty_array"),
    ({"text": {"format": {"type": "yaml"}}}, "text.format.type", "invalid_value"),
    ({"input": [{"type": "reasoning", "id": "rs_1", "summary": True}]}, "input[0].summary", "invalid_type"),
    ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": 1}},
     "tool_choice.tools", "invalid_type"),
    ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"name": "x"}]}},
     "tool_choice.tools", "invalid_value"),
    ({"input": ["Hi"]}, "input[0]", "invalid_value"),
    ({"metadata": {"team": 1}}, "metadata", "invalid_value"),
    ({"tool_choice": "sometimes"}, "tool_choice", "invalid_value"),
    ({"tool_choice": "required"}, "tool_choice", "invalid_value"),
    ({"tool_choice": {"type": "function", "name": "nope"}}, "tool_choice", "invalid_value"),
    ({"tools": [{"type": "function", "name": "f", "parameters": 5}]}, "tools[0].parameters", "invalid_value"),
    ({"input": [{"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "mr-thinking-v1:WzVd"}]},
     "input[0].encrypted_content", "invalid_value"),
    ({"truncation": "auto"}, "truncation", "unsupported_value"),
])
def test_what_no_chat_model_can_do_is_a_400_naming_it(client: openai.OpenAI, upstream: FakeOpenAI,
                                                       extra: dict[str, Any], param: str, code: str) -> None:
    upstream.clear()
    body: dict[str, Any] = {"model": MODEL, "input": "Hi", **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/responses", body=body, cast_to=object)
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param and error["code"] == code, error
    assert "function." not in error["message"]  # the chat request's names stay out of it
    assert not upstream.requests


def test_a_missing_input_is_named(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: 'input'"):
        client.post("/responses", body={"model": MODEL}, cast_to=object)


def test_upstream_errors_keep_their_status_before_the_stream_and_fail_it_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="up/fault-status-429", input="Hi")
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nobody/nothing", input="Hi")
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for event in client.responses.create(model="up/fault-cut-3", input="Tell me about the sea", stream=True):
            seen.append(event.type)
    assert caught.value.code == "upstream_stream_interrupted" and "'up'" in caught.value.message
    assert seen[:2] == ["response.created", "response.in_progress"] and "response.output_text.delta" in seen


def test_the_provider_route_serves_responses_too(gateway: GatewayProcess) -> None:
    with openai.OpenAI(base_url=gateway.url + "/up/v1", api_key=GATEWAY_KEY,
                       max_retries=0) as sdk:
        assert sdk.responses.create(model="any-model", input="Say hi").output_text == "echo: Say hi"


def test_a_stored_response_is_a_404_that_says_why(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    calls: list[Any] = [lambda: client.responses.retrieve("resp_1"), lambda: client.responses.delete("resp_1"),
                        lambda: client.responses.cancel("resp_1"), lambda: client.responses.input_items.list("resp_1"),
                        lambda: client.responses.compact(model=MODEL, input="Hi")]
    for call in calls:
        with pytest.raises(openai.NotFoundError, match=r"gateway keeps no responses|not served here"):
            call()
    assert httpx.get(gateway.base_url + "/responses/resp_1").status_code == 401  # the key is checked first
