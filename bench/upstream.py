"""A cheap fake OpenAI upstream for benchmarks: raw asyncio on uvloop, keep-alive, canned replies.

It must never be the bottleneck, so it parses only the request line and Content-Length and answers every POST
with the same ~1 KB chat completion (or a 50-chunk stream when the body asks for ``"stream": true``).
``--delay-ms`` adds fixed latency.

    python bench/upstream.py --port 9100 [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import cast

import uvloop

_CHAT = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "lorem ipsum dolor sit amet " * 30,
                                         "refusal": None}, "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 150, "total_tokens": 162},
    "system_fingerprint": "fp_bench",
}).encode()
_CHUNK = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
          b'"model":"bench-model","choices":[{"index":0,"delta":{"content":"lorem "},"finish_reason":null}]}\n\n')
_STREAM = _CHUNK * 50 + b"data: [DONE]\n\n"


def _response(body: bytes, content_type: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


_CHAT_RESPONSE = _response(_CHAT, b"application/json")
_STREAM_RESPONSE = _response(_STREAM, b"text/event-stream")


class _Protocol(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
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
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4:end], self.buffer[end:]
            reply = _STREAM_RESPONSE if b'"stream":true' in body.replace(b" ", b"") else _CHAT_RESPONSE
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._write, reply)
            else:
                self._write(reply)

    def _write(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)


async def serve(port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(delay), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
