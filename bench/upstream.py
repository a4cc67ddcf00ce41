"""A cheap fake OpenAI upstream for benchmarks: raw asyncio on uvloop, keep-alive, canned replies.

It must never be the bottleneck, so it parses only the request line and Content-Length, looks for a few markers
in the body and answers from pre-built byte strings:

- ``POST .../embeddings``: 16 vectors x 384 floats (about 120 KB of JSON);
- ``POST`` anything else: a ~1 KB chat completion, or with ``"stream": true`` a 50-chunk SSE stream sent with
  chunked transfer encoding, as real upstreams do;
- ``GET``: a one-model ``/v1/models`` list (readiness probes).

The model named in the body picks the timing: ``bench-model`` answers at once (a stream goes out in one write);
``slow-model`` answers after ``--delay-ms`` (50 ms), and its stream sends the first chunk after that delay and
then one chunk every ``--chunk-gap-ms`` (2 ms), so that clients can measure inter-chunk delay.

    python bench/upstream.py --port 9100 [--delay-ms 50] [--chunk-gap-ms 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import cast

import uvloop

__all__ = ["CHUNKS", "EMBEDDING_DIMS", "EMBEDDING_INPUTS", "serve"]

CHUNKS = 50
EMBEDDING_INPUTS = 16
EMBEDDING_DIMS = 384

_CHAT = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "lorem ipsum dolor sit amet " * 30,
                                         "refusal": None}, "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 150, "total_tokens": 162},
    "system_fingerprint": "fp_bench",
}, separators=(",", ":")).encode()
_EMBEDDINGS = json.dumps({
    "object": "list", "model": "bench-model",
    "data": [{"object": "embedding", "index": i,
              "embedding": [round(((i * 7919 + d * 104729) % 20011) / 10005.5 - 1.0, 8) for d in range(EMBEDDING_DIMS)]}
             for i in range(EMBEDDING_INPUTS)],
    "usage": {"prompt_tokens": 64, "total_tokens": 64},
}, separators=(",", ":")).encode()
_MODELS = b'{"object":"list","data":[{"id":"bench-model","object":"model","created":0,"owned_by":"bench"}]}'
_EVENT = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
          b'"model":"bench-model","choices":[{"index":0,"delta":{"content":"lorem "},"finish_reason":null}]}\n\n')
_LAST_EVENT = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
               b'"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
               b'"usage":{"prompt_tokens":12,"completion_tokens":50,"total_tokens":62}}\n\n')
_DONE = b"data: [DONE]\n\n"


def _response(body: bytes, content_type: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_CHAT_RESPONSE = _response(_CHAT, b"application/json")
_EMBEDDINGS_RESPONSE = _response(_EMBEDDINGS, b"application/json")
_MODELS_RESPONSE = _response(_MODELS, b"application/json")
_STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
# The head goes out with the first event, as a real server flushes it; then the other events one write each.
_STREAM_PARTS = ([_STREAM_HEAD + _chunk(_EVENT)] + [_chunk(_EVENT)] * (CHUNKS - 2)
                 + [_chunk(_LAST_EVENT), _chunk(_DONE) + b"0\r\n\r\n"])
_STREAM_RESPONSE = b"".join(_STREAM_PARTS)


class _Protocol(asyncio.Protocol):
    def __init__(self, delay: float, gap: float) -> None:
        self.delay = delay
        self.gap = gap
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4:end], self.buffer[end:]
            self._answer(head[:head.find(b" HTTP/")], body)

    def _answer(self, request_line: bytes, body: bytes) -> None:
        slow = b"slow-model" in body
        if request_line.startswith(b"GET"):
            self._send(_MODELS_RESPONSE, 0.0)
        elif request_line.endswith(b"/embeddings"):
            self._send(_EMBEDDINGS_RESPONSE, self.delay if slow else 0.0)
        elif b'"stream":true' not in body.replace(b" ", b""):
            self._send(_CHAT_RESPONSE, self.delay if slow else 0.0)
        elif not slow:
            self._write(_STREAM_RESPONSE)
        else:
            loop = asyncio.get_running_loop()
            for i, part in enumerate(_STREAM_PARTS):
                loop.call_later(self.delay + i * self.gap, self._write, part)

    def _send(self, reply: bytes, delay: float) -> None:
        if delay:
            asyncio.get_running_loop().call_later(delay, self._write, reply)
        else:
            self._write(reply)

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)


async def serve(host: str, port: int, delay: float, gap: float) -> None:
    """Answer on ``host:port`` until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(delay, gap), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0, help="latency of slow-model (default 50)")
    parser.add_argument("--chunk-gap-ms", type=float, default=2.0, help="slow-model stream chunk gap (default 2)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, args.delay_ms / 1000, args.chunk_gap_ms / 1000))


if __name__ == "__main__":
    main()
