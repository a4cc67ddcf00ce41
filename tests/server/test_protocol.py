"""server/protocol.py: model calls written without ASGI, as uvicorn would write them; a complete response leaves in
one write; everything else as uvicorn writes it. (tests/server/test_asgi_path.py compares the answers with the
ASGI path's.)"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.cli import http_protocol
from server.protocol import UVICORN_VERSIONS, CycleConn, HeadWithBody, HttpProtocol
from tests.conftest import GATEWAY_KEY
from tests.gateway import ROOT, GatewayProcess

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


class Recorder:
    """A transport that records what it is asked to write, call by call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[bytes, ...]]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", (data,)))

    def writelines(self, pieces: tuple[bytes, ...]) -> None:
        self.calls.append(("writelines", tuple(pieces)))

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"extra:{name}"


def held(recorder: Recorder) -> HeadWithBody:
    return HeadWithBody(cast(asyncio.Transport, recorder))


def test_head_waits_for_the_body_and_both_go_in_one_call() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(HEAD)
    assert recorder.calls == []
    transport.write(b"{}")
    assert recorder.calls == [("writelines", (HEAD, b"{}"))]


def test_interim_100_continue_and_streamed_heads_go_at_once() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    transport.write(CHUNKED)
    transport.write(b"5\r\nhello\r\n")
    assert recorder.calls == [("write", (b"HTTP/1.1 100 Continue\r\n\r\n",)), ("write", (CHUNKED,)),
                              ("write", (b"5\r\nhello\r\n",))]


def test_a_body_that_looks_like_a_head_is_not_held() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(CHUNKED)
    transport.write(HEAD)  # a streamed piece that happens to contain these bytes
    assert [call[1] for call in recorder.calls] == [(CHUNKED,), (HEAD,)]


def test_close_writes_a_held_head_first_and_other_attributes_pass_through() -> None:
    recorder = Recorder()
    transport = held(recorder)
    transport.write(HEAD)
    transport.close()
    assert recorder.calls == [("write", (HEAD,))] and recorder.closed
    assert transport.get_extra_info("peername") == "extra:peername"


def test_the_uvicorn_hook_exists() -> None:
    # A uvicorn upgrade that renames the hook would silently turn the merge off: fail here instead.
    assert "_start_asgi_task" in vars(HttpToolsProtocol)
    assert issubclass(HttpProtocol, HttpToolsProtocol)


def test_serve_uses_the_protocol_only_under_the_uvicorn_it_was_written_for(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    installed = importlib.metadata.version("uvicorn")
    assert ".".join(installed.split(".")[:2]) in UVICORN_VERSIONS  # the tests run against a known uvicorn
    assert http_protocol() is HttpProtocol and not caplog.records

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.99.1" if name == "uvicorn" else installed)
    assert http_protocol() == "httptools"
    assert "uvicorn 0.99.1: server.protocol was written for uvicorn 0.54; serving over plain ASGI" in caplog.text


def test_one_segment_per_json_answer_and_head_requests_still_answered(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET /health/live HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        first = conn.recv(65536)  # one write: the head and the body arrive together (two often arrived apart)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b'{"status":"ok"}')
        conn.sendall(f"HEAD /health/live HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = conn.recv(65536)
        assert head.startswith(b"HTTP/1.1 ") and head.endswith(b"\r\n\r\n")


def _request(host: str, body: bytes, *extra: str, path: str = "/v1/chat/completions") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {GATEWAY_KEY}",
             "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


CHAT = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}).encode()


def test_model_calls_keep_alive_pipelined_in_order_then_close(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    wrong = CHAT.replace(b'"chat"', b'"no-such-model"')
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        # Three requests in one write: answered in order on the one connection, the last one closes it.
        conn.sendall(_request(host, CHAT) + _request(host, wrong) + _request(host, CHAT, "Connection: close"))
        data = _read_all(conn)
    heads = [part.split(b"\r\n")[0] for part in data.split(b"HTTP/1.1 ")[1:]]
    assert heads == [b"200 OK", b"404 Not Found", b"200 OK"], data
    assert data.count(b"\r\nconnection: close\r\n") == 1 and data.count(b"\r\nx-request-id: ") == 3
    assert data.count(b"\r\ndate: ") == 3 and data.count(b"\r\nserver: uvicorn\r\n") == 3


def test_model_calls_of_http_1_0_clients_close_and_100_continue_is_sent(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(_request(host, CHAT).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        data = _read_all(conn)  # the server closes: the read ends
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nconnection: close\r\n" in data
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        head = _request(host, CHAT, "Expect: 100-continue").split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        conn.sendall(head)
        assert conn.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"  # before the body was sent
        conn.sendall(CHAT)
        answer = conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"}")


def test_a_body_that_comes_after_its_head_is_waited_for(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    request = _request(host, CHAT)
    split = request.index(b"\r\n\r\n") + 4 + len(CHAT) // 2
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request[:split])  # the head and half the body: the call starts before the rest is in
        time.sleep(0.2)
        conn.sendall(request[split:])
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and json.loads(answer.split(b"\r\n\r\n", 1)[1])["choices"]


def test_a_streamed_model_call_is_chunked_and_ends_with_the_last_chunk(gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    body = json.dumps({"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(_request(host, body, "Connection: close"))
        data = _read_all(conn)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"\r\ntransfer-encoding: chunked" in head and b"content-length" not in head
    events = b""
    while True:  # the chunked framing, chunk by chunk
        size, _, rest = rest.partition(b"\r\n")
        if int(size, 16) == 0:
            assert rest == b"\r\n"
            break
        events, rest = events + rest[:int(size, 16)], rest[int(size, 16) + 2:]
    assert events.startswith(b"data: {") and events.endswith(b"data: [DONE]\n\n")


def test_an_idle_keep_alive_connection_is_closed_after_uvicorns_timeout(gateway: GatewayProcess) -> None:
    # The keep-alive timeout runs on core.timers (server/protocol.py): 5 s, uvicorn's default.
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(_request(host, CHAT))
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        started = time.monotonic()
        assert conn.recv(65536) == b""  # closed by the server
        assert 4.9 < time.monotonic() - started < 9


def test_a_model_calls_head_is_uvicorns_and_bad_names_or_values_are_refused() -> None:
    cycle = SimpleNamespace(scope={}, receive=None, default_headers=[(b"server", b"uvicorn")], keep_alive=False,
                            response_started=False, waiting_for_100_continue=True)
    conn = CycleConn(cast(Any, cycle), cast(Any, None))
    assert conn._head(200, [(b"content-type", b"application/json")], b"\r\n") == (
        b"HTTP/1.1 200 OK\r\nserver: uvicorn\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
    assert cycle.response_started and not cycle.waiting_for_100_continue
    for bad in ([(b"x-a", b"one\r\nx-injected: two")], [(b"x a", b"b")], [(b"x-a", b"ok"), (b"x-b", b"\x00")]):
        with pytest.raises(RuntimeError, match="Invalid HTTP header"):
            conn._head(200, bad)


def test_the_protocol_does_not_import_the_app() -> None:
    # The supervisor imports the protocol before it sets the workers' shared metrics directory, which must come
    # before prometheus-client's first import (else every worker counts in a registry no scrape reads).
    code = ("import sys, server.protocol\n"
            "print(sorted(m for m in ('prometheus_client', 'server.calls') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_head_on_a_model_call_path_answers_405_without_a_body_and_the_connection_stays_in_step(
        gateway: GatewayProcess) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        head = f"HEAD /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        conn.sendall(head + _request(host, CHAT, "Connection: close"))
        data = _read_all(conn)
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 405 ") and b"\r\ncontent-length: " in first
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # no body bytes of the 405 in front of the next answer
