"""Anthropic's stream events to OpenAI chunks, thinking included (no network: the wire bytes only)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import errors
from core.model_types import ProviderContext
from providers.anthropic.stream import AnthropicStream
from tests.providers.streams import client_events, provider_context, upstream


@pytest.fixture(scope="module")
def context() -> ProviderContext:
    return provider_context("anthropic", "claude")


def frame(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def block(index: int, start: dict[str, Any], *deltas: dict[str, Any]) -> bytes:
    return (frame({"type": "content_block_start", "index": index, "content_block": start})
            + b"".join(frame({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas)
            + frame({"type": "content_block_stop", "index": index}))


START = frame({"type": "message_start", "message": {"id": "msg_1", "model": "claude-haiku-4-5", "content": [],
                                                    "usage": {"input_tokens": 5, "output_tokens": 1}}})
END = (frame({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}})
       + frame({"type": "message_stop"}))
REDACTED = block(0, {"type": "redacted_thinking", "data": "ZW5j"})
THOUGHT = block(1, {"type": "thinking", "thinking": "", "signature": ""},
                {"type": "thinking_delta", "thinking": "Let me "}, {"type": "thinking_delta", "thinking": "see."},
                {"type": "signature_delta", "signature": "c2ln"})
TEXT = block(2, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Checking."})
CALL = block(3, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
             {"type": "input_json_delta", "partial_json": '{"city": '},
             {"type": "input_json_delta", "partial_json": '"Rome"}'})


def failed(kind: str, message: str) -> errors.ModelRuntimeError:
    return errors.UpstreamError(message)


async def test_thinking_becomes_reasoning_deltas_and_whole_indexed_blocks(context: ProviderContext) -> None:
    whole = START + REDACTED + THOUGHT + TEXT + CALL + END
    events = await client_events(AnthropicStream(upstream(whole[:100], whole[100:401], whole[401:]), context, False,
                                                 failed))
    deltas = [e["choices"][0]["delta"] for e in events if e.get("choices")]
    assert deltas[:5] == [
        {"role": "assistant", "content": ""},
        {"thinking_blocks": [{"index": 0, "type": "redacted_thinking", "data": "ZW5j"}]},
        {"reasoning_content": "Let me "}, {"reasoning_content": "see."},
        {"thinking_blocks": [{"index": 1, "type": "thinking", "thinking": "Let me see.", "signature": "c2ln"}]},
    ]
    assert deltas[5] == {"content": "Checking."}
    assert [d["tool_calls"][0]["function"]["arguments"] for d in deltas[6:9]] == ["", '{"city": ', '"Rome"}']
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls" and events[-1] == {"done": True}


async def test_a_thinking_block_that_starts_with_text_keeps_it(context: ProviderContext) -> None:
    started = block(0, {"type": "thinking", "thinking": "Hm. ", "signature": ""},
                    {"type": "thinking_delta", "thinking": "Yes."}, {"type": "signature_delta", "signature": "s"})
    events = await client_events(AnthropicStream(upstream(START + started + END), context, False, failed))
    deltas = [e["choices"][0]["delta"] for e in events if e.get("choices")]
    assert deltas[1:4] == [{"reasoning_content": "Hm. "}, {"reasoning_content": "Yes."},
                           {"thinking_blocks": [{"index": 0, "type": "thinking", "thinking": "Hm. Yes.",
                                                 "signature": "s"}]}]
