"""SSE passthrough: bytes go through untouched, framing is respected, incomplete streams never look complete."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from core.model_types import ProviderContext
from providers.openai_compatible.stream import SSEPassthrough

FIRST = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
LAST = b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
DONE = b"data: [DONE]\n\n"


async def run(context: ProviderContext, *chunks: bytes, fail: Exception | None = None) -> list[bytes]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        if fail:
            raise fail

    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())
    return [item async for item in SSEPassthrough(response, context)]


def error_of(item: bytes) -> dict[str, str]:
    assert item.startswith(b"data: ") and item.endswith(b"\n\n")
    error: dict[str, str] = json.loads(item[6:])["error"]
    return error


async def test_complete_stream_is_forwarded_byte_for_byte(context: ProviderContext) -> None:
    assert b"".join(await run(context, FIRST, LAST, DONE)) == FIRST + LAST + DONE


async def test_events_split_across_reads_are_held_until_whole(context: ProviderContext) -> None:
    whole = FIRST + LAST + DONE
    items = await run(context, whole[:10], whole[10:100], whole[100:])
    assert b"".join(items) == whole
    assert all(item.endswith(b"\n\n") for item in items)  # never half an event


async def test_crlf_framing_multiline_data_and_comments(context: ProviderContext) -> None:
    crlf = b': keep-alive\r\n\r\ndata: {"choices":\r\ndata: [{"finish_reason":"stop"}]}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert b"".join(await run(context, crlf)) == crlf


async def test_missing_done_after_a_finish_reason_is_added(context: ProviderContext) -> None:
    assert await run(context, FIRST, LAST) == [FIRST, LAST, DONE]


async def test_unterminated_last_event_is_taken_when_whole(context: ProviderContext) -> None:
    assert b"".join(await run(context, FIRST, LAST, b"data: [DONE]")) == FIRST + LAST + DONE


@pytest.mark.parametrize("chunks", [(FIRST,), (FIRST, FIRST[:20])])
async def test_stream_that_stops_early_ends_with_an_error_not_done(context: ProviderContext,
                                                                  chunks: tuple[bytes, ...]) -> None:
    items = await run(context, *chunks)
    assert items[0] == FIRST and DONE not in items
    error = error_of(items[-1])
    assert error["code"] == "upstream_stream_interrupted" and "'local'" in error["message"]


async def test_connection_error_mid_stream_is_an_error_event(context: ProviderContext) -> None:
    items = await run(context, FIRST, fail=httpx.RemoteProtocolError("peer closed connection"))
    assert items[0] == FIRST and error_of(items[-1])["code"] == "upstream_stream_interrupted"


async def test_read_timeout_mid_stream_is_a_timeout_event(context: ProviderContext) -> None:
    items = await run(context, FIRST, fail=httpx.ReadTimeout("slow"))
    assert error_of(items[-1])["type"] == "timeout_error"


@pytest.mark.parametrize("bad", [b"data: <html>oops</html>\n\n", b'data: {"choices": [tru]}\n\n',
                                 b"data: {}}\n\n"])
async def test_non_json_payload_stops_the_stream(context: ProviderContext, bad: bytes) -> None:
    items = await run(context, FIRST, bad, LAST, DONE)
    assert items[0] == FIRST and len(items) == 2
    assert error_of(items[1])["code"] == "upstream_invalid_event"


async def test_json_of_an_unusual_shape_passes(context: ProviderContext) -> None:
    odd = b'data: {"choices": "not a list", "x": [1]}\n\n'
    assert b"".join(await run(context, odd, LAST)) == odd + LAST + DONE


async def test_upstream_error_event_is_the_last_word(context: ProviderContext) -> None:
    failure = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    assert await run(context, FIRST, failure) == [FIRST, failure]


USAGE = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n'


async def read(context: ProviderContext, *chunks: bytes, hide_usage: bool = False) -> tuple[bytes, SSEPassthrough]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    stream = SSEPassthrough(httpx.Response(200, content=body()), context, hide_usage)
    return b"".join([item async for item in stream]), stream


async def test_the_usage_event_is_noted_and_passed_on(context: ProviderContext) -> None:
    sent, stream = await read(context, FIRST, LAST, USAGE, DONE)
    assert sent == FIRST + LAST + USAGE + DONE
    assert stream.usage is not None and (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (7, 3)


async def test_a_usage_event_whose_choices_are_null_still_counts(context: ProviderContext) -> None:
    null_choices = USAGE.replace(b'"choices":[]', b'"choices":null')
    sent, stream = await read(context, FIRST, LAST, null_choices, DONE)
    assert sent == FIRST + LAST + null_choices + DONE
    assert stream.usage is not None and stream.usage.total_tokens == 10


async def test_a_usage_event_the_client_did_not_ask_for_is_read_but_kept_from_it(context: ProviderContext) -> None:
    sent, stream = await read(context, FIRST, LAST + USAGE + DONE, hide_usage=True)
    assert sent == FIRST + LAST + DONE
    alone, _ = await read(context, FIRST, LAST, USAGE, DONE, hide_usage=True)  # in a read of its own
    assert alone == FIRST + LAST + DONE
    assert stream.usage is not None and stream.usage.prompt_tokens == 7


async def test_a_usage_in_the_finishing_choice_counts_when_there_is_no_usage_event(context: ProviderContext) -> None:
    # Moonshot's (Kimi's) last chunk: the usage inside its choice, next to the finish reason
    moonshot = (b'data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":'
                b'{"prompt_tokens":19,"completion_tokens":13,"total_tokens":32}}]}\n\n')
    sent, stream = await read(context, FIRST, moonshot, DONE)
    assert sent == FIRST + moonshot + DONE
    assert stream.usage is not None and (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (19, 13)
    _, stream = await read(context, FIRST, moonshot, USAGE, DONE)  # a usage event, where both come, is the count
    assert stream.usage is not None and stream.usage.total_tokens == 10
