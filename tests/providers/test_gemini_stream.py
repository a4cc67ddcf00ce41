"""Gemini's ``streamGenerateContent?alt=sse`` events as OpenAI chunks (no network: streams as ``httpx.Response``
bodies)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.model_types import ProviderContext
from providers.gemini.stream import GeminiStream
from tests.providers.streams import client_events, provider_context, upstream


@pytest.fixture(scope="module")
def context() -> ProviderContext:
    return provider_context("gemini", "gemini")


def event(*candidates: dict[str, Any]) -> bytes:
    """One SSE event: a response whose candidates are ``(index, parts, finishReason?)`` dictionaries."""
    body = {"candidates": list(candidates), "modelVersion": "gemini-2.5-flash", "responseId": "r1",
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 8}}
    return b"data: " + json.dumps(body).encode() + b"\r\n\r\n"


def candidate(*parts: dict[str, Any], index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return {"index": index, "content": {"role": "model", "parts": list(parts)}} | (
        {"finishReason": finish} if finish else {})


async def translate(context: ProviderContext, *reads: bytes, choices: int = 1) -> list[dict[str, Any]]:
    return await client_events(GeminiStream(upstream(*reads), context, "gemini-2.5-flash", False, choices))


def deltas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"index": c["index"], **c["delta"], "finish": c["finish_reason"]}
            for e in events if e.get("choices") for c in e["choices"]]


async def test_thought_parts_become_reasoning_content_deltas_before_the_text(context: ProviderContext) -> None:
    whole = (event(candidate({"text": "**Plan**\n\n", "thought": True}))
             + event(candidate({"text": "Say hi.", "thought": True}, {"text": "Hel"}))
             + event(candidate({"text": "lo"}, finish="STOP")))
    events = await translate(context, whole[:40], whole[40:])
    assert deltas(events) == [{"index": 0, "role": "assistant", "content": "", "finish": None},
                              {"index": 0, "reasoning_content": "**Plan**\n\n", "finish": None},
                              {"index": 0, "reasoning_content": "Say hi.", "finish": None},
                              {"index": 0, "content": "Hel", "finish": None},
                              {"index": 0, "content": "lo", "finish": None},
                              {"index": 0, "finish": "stop"}]
    assert events[-1] == {"done": True}


async def test_each_candidate_keeps_its_own_thoughts(context: ProviderContext) -> None:
    events = await translate(context, event(candidate({"text": "b?", "thought": True}, {"text": "B"}, index=1,
                                                      finish="STOP"),
                                            candidate({"text": "A"}, finish="STOP")), choices=2)
    said = [(d["index"], d.get("reasoning_content"), d.get("content")) for d in deltas(events)
            if d.get("reasoning_content") or d.get("content")]
    assert said == [(1, "b?", None), (1, None, "B"), (0, None, "A")]
