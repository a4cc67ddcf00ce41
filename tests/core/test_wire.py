"""The lean HTTP/1.1 client (core/wire.py) against a raw socket server that answers exactly what each test scripts:
keep-alive reuse, a connection closed under reuse, body framings, cuts, timeouts, garbage and back-pressure."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from core.wire import Pool

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
"""Answers one connection: reader, writer, and the connection's number (0, 1, ...)."""

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Server:
    def __init__(self, script: Script) -> None:
        self.script, self.connections, self.requests = script, 0, 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number, self.connections = self.connections, self.connections + 1
        try:
            await self.script(reader, writer, number)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """Read one request (head and a content-length body)."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        self.requests += 1
        return head + await reader.readexactly(length)


_POOLS: list[Pool] = []


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    yield
    while _POOLS:
        _POOLS.pop().close()


def pool(server: Server, connect_timeout_s: float = 1.0) -> Pool:
    _POOLS.append(Pool("http", "127.0.0.1", server.port, connect_timeout_s=connect_timeout_s))
    return _POOLS[-1]


def head(path: str = "/v1/x", body: bytes = b"{}") -> bytes:
    return f"POST {path} HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n\r\n".encode()


async def fetch(p: Pool, timeout: float = 2.0) -> tuple[int, bytes]:
    response = await p.request(head(), b"{}", timeout)
    try:
        return response.status_code, await response.aread()
    finally:
        await response.aclose()


async def test_keep_alive_reuses_one_connection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            await server.request(reader)
            writer.write(OK)

    async with Server(script) as server:
        p = pool(server)
        assert [await fetch(p) for _ in range(5)] == [(200, b"{}")] * 5
        p.close()
    assert server.connections == 1 and server.requests == 5


async def test_a_connection_closed_under_reuse_is_retried_once_on_a_new_one() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.request(reader)
        writer.write(OK)
        await writer.drain()
        if number == 0:  # keep-alive promised, but read the next request and close without answering
            await server.request(reader)

    async with Server(script) as server:
        p = pool(server)
        assert await fetch(p) == (200, b"{}")
        assert await fetch(p) == (200, b"{}")
        p.close()
    assert server.connections == 2 and server.requests == 3


async def test_a_fresh_connection_closed_without_an_answer_is_an_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)

    async with Server(script) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(pool(server))
    assert server.requests == 1  # not sent twice: a new connection that fails is not retried


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil the end",  # close-delimited
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nuntil \r\n7\r\nthe end\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nuntil the end",
])
async def test_body_framings(answer: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(answer)
        await writer.drain()

    async with Server(script) as server:
        assert await fetch(pool(server)) == (200, b"until the end")


async def test_pieces_arrive_as_sent_and_a_cut_keeps_what_came_before() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for i in range(3):
            writer.write(b"9\r\ndata: %d\n\n\r\n" % i)
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.transport.abort()  # no terminating chunk

    async with Server(script) as server:
        response = await pool(server).request(head(), b"{}", 2.0)
        assert response.status_code == 200 and response.content_type == "text/event-stream"
        pieces: list[bytes] = []
        with pytest.raises(httpx.TransportError):
            async for piece in response.aiter_bytes():
                pieces.append(piece)
        await response.aclose()
    assert pieces == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]


async def test_read_timeout_before_the_headers_and_between_pieces() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.request(reader)
        if number == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf ")
            await writer.drain()
        await asyncio.sleep(2)

    async with Server(script) as server:
        p = pool(server)
        with pytest.raises(httpx.ReadTimeout):
            await p.request(head(), b"{}", 0.2)
        response = await p.request(head(), b"{}", 0.2)
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()
        await response.aclose()
    assert server.connections == 2  # a timed-out connection is never reused


async def test_garbage_is_a_protocol_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"<html>not http</html>\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with Server(script) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(pool(server))


async def test_closing_early_drops_the_connection_and_the_server_sees_it() -> None:
    gone = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        assert await reader.read() == b""  # EOF: the client went away
        gone.set()

    async with Server(script) as server:
        response = await pool(server).request(head(), b"{}", 2.0)
        pieces = response.aiter_bytes()
        assert await anext(pieces) == b"first"
        await response.aclose()
        await asyncio.wait_for(gone.wait(), 2)


async def test_a_large_body_read_slowly_arrives_whole() -> None:
    body = bytes(range(256)) * 16384  # 4 MiB: reading pauses past 1 MiB waiting and resumes as it is taken

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()
        await server.request(reader)
        writer.write(OK)

    async def slowly(pieces: AsyncIterator[bytes]) -> bytes:
        out = []
        async for piece in pieces:
            out.append(piece)
            await asyncio.sleep(0.01)
        return b"".join(out)

    async with Server(script) as server:
        p = pool(server)
        response = await p.request(head(), b"{}", 2.0)
        assert await slowly(response.aiter_bytes()) == body
        await response.aclose()
        assert await fetch(p) == (200, b"{}")  # and the connection is reused afterwards
    assert server.connections == 1


async def test_refused_connection_and_a_closed_pool() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        pass

    async with Server(script) as server:
        port = server.port
    with pytest.raises(httpx.ConnectError):
        await fetch(Pool("http", "127.0.0.1", port, connect_timeout_s=1))
    closed = Pool("http", "127.0.0.1", port, connect_timeout_s=1)
    closed.close()
    with pytest.raises(httpx.LocalProtocolError):
        await fetch(closed)


async def test_an_interim_answer_is_skipped_and_its_headers_dropped() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(OK)
        await writer.drain()

    async with Server(script) as server:
        response = await pool(server).request(head(), b"{}", 2.0)
        assert response.status_code == 200 and "link" not in response.headers
        assert await response.aread() == b"{}"
        await response.aclose()


async def test_a_reused_connection_that_dies_while_working_is_not_sent_again() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.request(reader)
        writer.write(OK)
        await writer.drain()
        await server.request(reader)
        if number == 0:
            await asyncio.sleep(0.3)  # took the request in, worked on it, then died without answering
            return
        writer.write(OK)

    async with Server(script) as server:
        p = pool(server)
        assert await fetch(p) == (200, b"{}")
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(p)
    assert server.requests == 2  # the second request went out once, not twice


async def test_a_closed_connection_is_freed_without_the_garbage_collector() -> None:
    # Its parser, its answer and its read timeout refer back to it: all dropped once it is lost.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(OK.replace(b"content-length: 2", b"connection: close\r\ncontent-length: 2"))

    async with Server(script) as server:
        p = pool(server)
        response = await p.request(head(), b"{}", 2.0)
        connection = weakref.ref(response._connection)
        assert await response.aread() == b"{}"
        await response.aclose()
        del response
        gc.disable()
        try:
            for _ in range(50):  # until the loss has been seen
                await asyncio.sleep(0.01)
                if connection() is None:
                    break
            assert connection() is None
        finally:
            gc.enable()
