"""The console's HTTP client on its own: what it does when a connection fails under it."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from console.api import Gateway, GatewayDown

HEALTH = b'{"status":"ok","providers":{}}'


class DroppingServer:
    """Answers each connection's first request (keep-alive), then closes the connection, unanswered, when the same
    connection brings another: what a client sees when the server's keep-alive timeout closes a pooled connection
    just as it is reused."""

    def __init__(self, reset: bool = False) -> None:
        self.reset = reset
        """Drop with a reset (RST: the client reads ECONNRESET) rather than an orderly close."""
        self.requests: list[bytes] = []  # each request's line
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = False
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests.append(head.split(b"\r\n", 1)[0])
                if answered:
                    if self.reset:
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break  # closed without an answer
                answered = True
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(HEALTH), HEALTH))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture(params=[False, True], ids=["closed", "reset"])
async def dropping(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DroppingServer, str]]:
    server = DroppingServer(reset=request.param)
    async with server as url:
        yield server, url


async def test_a_get_on_a_pooled_connection_the_gateway_just_closed_goes_again_once(
        dropping: tuple[DroppingServer, str]) -> None:
    server, url = dropping
    async with Gateway(url) as gateway:
        assert (await gateway.health()).status == "ok"
        assert (await gateway.health()).status == "ok"  # the pooled connection is dropped; a new one answers
    assert server.requests == [b"GET /health/ready HTTP/1.1"] * 3 and server.connections == 2


async def test_a_post_is_not_sent_twice(dropping: tuple[DroppingServer, str]) -> None:
    server, url = dropping
    async with Gateway(url) as gateway:
        await gateway.health()
        with pytest.raises(GatewayDown, match="failed"):
            await gateway.embeddings("embedding", ["hi"])  # it may have been run: the user decides
    assert server.requests == [b"GET /health/ready HTTP/1.1", b"POST /v1/embeddings HTTP/1.1"]
