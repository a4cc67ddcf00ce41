"""A faithful fake of the OpenAI REST API for tests: `FakeOpenAI`.

It is a raw ASGI 3 application (JSON via msgspec) served by uvicorn on 127.0.0.1:<ephemeral> in a
daemon thread (see `asgi_server`). Routes, all behind `Authorization: Bearer <key>`:

* `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`, `GET /v1/models`,
  `GET /v1/models/{id}`;
* `POST /v1/audio/transcriptions`, `POST /v1/audio/translations`: multipart/form-data uploads (`file`,
  `model`, `language`, `prompt`, `response_format`, `temperature`, `timestamp_granularities[]`); json and
  verbose_json answer `application/json`, text/srt/vtt answer `text/plain; charset=utf-8`;
* `POST /v1/audio/speech`: the audio (`audio/mpeg`, `audio/opus`, `audio/aac`, `audio/flac`, `audio/wav`,
  `audio/pcm`) sent chunked, 4 KiB per ASGI send, without a content-length;
* `POST /v1/moderations`: one result per input (a list of multi-modal parts is one input).

`FakeOpenAI(dialect="deepseek")` answers chat as DeepSeek's API does (api-docs.deepseek.com, thinking mode): it
takes message fields OpenAI's refuses, refuses the `developer` role (400 "unknown variant `developer`"), thinks
unless `thinking` is `{"type": "disabled"}` (`reasoning_content` `Let me think about <the last user text>.`, on the
message and as stream deltas before the answer), and while thinking wants each earlier assistant turn that called
tools to carry its `reasoning_content` (400 "The `reasoning_content` in the thinking mode must be passed back to
the API.").

Replies are deterministic (see `openai_wire`), streams use SSE framing (`data: <json>\\n\\n` per event,
each written with its own ASGI send, then `data: [DONE]\\n\\n`).

Faults are chosen by the request's `model`, so they pass through any gateway unchanged:

* `fault-status-<code>`: that HTTP status with OpenAI's error body (429 adds `retry-after: 1`).
* `fault-stall-<seconds>`: wait before answering normally (gives up if the client disconnects).
* `fault-cut-<n>`: streaming (SSE or speech audio), send n events/chunks then drop the connection without
  the terminating chunk; otherwise send 200 headers and half of the body, then drop the connection.
* `fault-garbage`: 200 `text/html` non-JSON body; streaming, an SSE event whose data is not JSON.
* `fault-context`: 400 `context_length_exceeded`, as OpenAI answers a prompt longer than the model's window.
* `fault-slow-stream-<seconds>`: a 50-word reply whose stream events are `seconds` apart; for speech, the
  audio chunks are `seconds` apart (other routes answer normally).

Request validation that OpenAI does before looking at the model (multipart `file`/`model`/`response_format`/
`temperature` on the audio uploads) happens before the fault is applied.

Every request is recorded (in order, faulted ones included) in `FakeOpenAI.requests` with its raw body;
`RecordedRequest.form()` parses a multipart upload back into its parts. Every stream whose client went
away before the end increments `FakeOpenAI.disconnects`.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import msgspec

from tests.fakes import openai_wire as wire
from tests.fakes.asgi_server import (
    AbortConnection,
    Receive,
    Scope,
    Send,
    ThreadedASGIServer,
    read_body,
    sleep_unless_disconnected,
    wait_for_disconnect,
)

__all__ = ["FakeOpenAI", "RecordedRequest"]

_GARBAGE = b"<html>502 Bad Gateway</html>"
_DONE = b"data: [DONE]\n\n"
_FAULT = re.compile(r"fault-(status|stall|cut|slow-stream)-(\d+(?:\.\d+)?)|fault-(garbage)")
_ROUTES = {
    "/v1/chat/completions": "POST",
    "/v1/completions": "POST",
    "/v1/embeddings": "POST",
    "/v1/audio/transcriptions": "POST",
    "/v1/audio/translations": "POST",
    "/v1/audio/speech": "POST",
    "/v1/moderations": "POST",
    "/v1/models": "GET",
}
_FORM_ROUTES = frozenset({"/v1/audio/transcriptions", "/v1/audio/translations"})  # multipart, not JSON
_DEFAULT_MODELS = {"/v1/moderations": wire.DEFAULT_MODERATION_MODEL}


class RecordedRequest(msgspec.Struct, frozen=True):
    """One request as the fake received it (header names lower-cased, repeated headers joined)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    def json(self) -> Any:
        return msgspec.json.decode(self.body)

    def form(self) -> wire.Form:
        """The parts of a multipart/form-data body (empty for any other content type)."""
        return wire.parse_form(self.headers.get("content-type", ""), self.body)


class _Fault(msgspec.Struct, frozen=True):
    kind: str
    value: float = 0.0


def _parse_fault(model: str) -> _Fault | None:
    match = _FAULT.fullmatch(model)
    if match is None:
        return None
    if match.group(3):
        return _Fault("garbage")
    return _Fault(match.group(1), float(match.group(2)))


def _sse(payload: Any) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


class _Exchange:
    """Response side of one HTTP exchange, with the headers OpenAI puts on every response."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send
        self.request_id = "req_" + uuid.uuid4().hex

    async def start(
        self, status: int, content_type: str, headers: dict[str, str], length: int | None
    ) -> None:
        raw = [
            (b"content-type", content_type.encode()),
            (b"x-request-id", self.request_id.encode()),
            (b"openai-version", b"2020-10-01"),
            (b"openai-processing-ms", b"7"),
        ]
        raw += [(k.encode(), v.encode()) for k, v in headers.items()]
        if length is not None:
            raw.append((b"content-length", str(length).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    async def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = msgspec.json.encode(payload)
        await self.start(status, "application/json", headers or {}, len(body))
        await self.end(body)

    async def error(self, err: wire.APIError) -> None:
        await self.json(err.status, err.body(), err.headers)


class FakeOpenAI:
    """The fake OpenAI server; also usable as `with FakeOpenAI() as fake:`."""

    def __init__(self, api_key: str = "sk-fake-upstream-key", dialect: str = "openai") -> None:
        self.api_key = api_key
        self.dialect = dialect
        """``deepseek``: chat as DeepSeek's API answers it (``openai_wire.plan_chat``)."""
        self.requests: list[RecordedRequest] = []
        self._disconnects = 0
        self._cond = threading.Condition()
        self._server = ThreadedASGIServer(self, name="fake-openai")

    # --- lifecycle and inspection ---------------------------------------------------------------

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def disconnects(self) -> int:
        with self._cond:
            return self._disconnects

    def wait_for_disconnect(self, timeout: float = 5.0, count: int = 1) -> bool:
        """True once at least `count` client disconnects (mid-stream or mid-stall) were seen since `clear()`."""
        with self._cond:
            return self._cond.wait_for(lambda: self._disconnects >= count, timeout)

    def clear(self) -> None:
        with self._cond:
            self.requests.clear()
            self._disconnects = 0

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)

    def _count_disconnect(self) -> None:
        with self._cond:
            self._disconnects += 1
            self._cond.notify_all()

    # --- ASGI entry point -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if body is None:
            return
        method, path = str(scope["method"]), str(scope["path"])
        self._record(_recorded(scope, body))
        exchange = _Exchange(receive, send)
        try:
            await self._dispatch(exchange, method, path, scope, body)
        except wire.APIError as err:
            await exchange.error(err)

    async def _dispatch(self, ex: _Exchange, method: str, path: str, scope: Scope, body: bytes) -> None:
        if path.startswith("/v1/"):
            self._authenticate(scope)
        allowed = _ROUTES.get(path) or ("GET" if path.startswith("/v1/models/") else None)
        if allowed is None:
            raise wire.unknown_url(method, path)
        if method != allowed:
            raise wire.invalid_method(method, path, allowed)
        if path == "/v1/models":
            await ex.json(200, wire.models_list())
        elif path.startswith("/v1/models/"):
            await ex.json(200, wire.model_object(path.removeprefix("/v1/models/")))
        elif path in _FORM_ROUTES:
            form = wire.parse_form(_headers(scope).get("content-type", ""), body)
            await self._post(ex, path, wire.form_body(form))
        else:
            await self._post(ex, path, _decode(body))

    def _authenticate(self, scope: Scope) -> None:
        header = _headers(scope).get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise wire.missing_api_key()
        if key != self.api_key:
            raise wire.incorrect_api_key(key)

    # --- POST routes ----------------------------------------------------------------------------

    async def _post(self, ex: _Exchange, path: str, body: dict[str, Any]) -> None:
        model = body.get("model", _DEFAULT_MODELS.get(path))
        if not isinstance(model, str) or not model:
            raise wire.missing_parameter("model")
        fault = _parse_fault(model)
        if fault is not None and fault.kind == "status":
            raise wire.fault_status(_status(fault.value, model), model)
        if model == "gpt-unknown" or model.startswith("unknown"):
            raise wire.model_not_found(model)
        if model == "fault-context":
            raise wire.context_length_exceeded(8192, 9000 + len(msgspec.json.encode(body)) // 4)
        if (
            fault is not None
            and fault.kind == "stall"
            and not await sleep_unless_disconnected(ex.receive, fault.value)
        ):
            self._count_disconnect()  # the client gave up while we stalled
            return
        handler = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completions,
            "/v1/embeddings": self._embeddings,
            "/v1/audio/transcriptions": self._transcriptions,
            "/v1/audio/translations": self._translations,
            "/v1/audio/speech": self._speech,
            "/v1/moderations": self._moderations,
        }[path]
        await handler(ex, body, fault)

    async def _chat(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        slow = fault is not None and fault.kind == "slow-stream"
        reply, prompt_tokens, n = wire.plan_chat(body, wire.SLOW_REPLY if slow else None, self.dialect)
        stream, with_usage = wire.stream_mode(body)
        meta = _meta("chatcmpl-", body)
        if stream:
            chunks = wire.chat_chunks(meta, reply, prompt_tokens, n, with_usage)
            await self._stream(ex, chunks, fault)
        else:
            await self._respond(ex, wire.chat_completion(meta, reply, prompt_tokens, n), fault)

    async def _completions(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        slow = fault is not None and fault.kind == "slow-stream"
        replies, prompt_tokens = wire.plan_completion(body, wire.SLOW_REPLY if slow else None)
        stream, with_usage = wire.stream_mode(body)
        meta = _meta("cmpl-", body)
        if stream:
            chunks = wire.completion_chunks(meta, replies, prompt_tokens, with_usage)
            await self._stream(ex, chunks, fault)
        else:
            await self._respond(ex, wire.text_completion(meta, replies, prompt_tokens), fault)

    async def _embeddings(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        await self._respond(ex, wire.embeddings(body), fault)

    async def _transcriptions(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        content_type, payload = wire.transcription_response(wire.plan_transcription(body, "transcribe"))
        await self._respond(ex, payload, fault, content_type)

    async def _translations(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        content_type, payload = wire.transcription_response(wire.plan_transcription(body, "translate"))
        await self._respond(ex, payload, fault, content_type)

    async def _speech(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        speech = wire.plan_speech(body)
        if fault is not None and fault.kind == "garbage":
            await self._respond(ex, speech.audio, fault)
            return
        chunks = wire.split_bytes(speech.audio, wire.SPEECH_CHUNK_BYTES)
        await self._send_chunked(ex, speech.content_type, {}, chunks, fault)

    async def _moderations(self, ex: _Exchange, body: dict[str, Any], fault: _Fault | None) -> None:
        await self._respond(ex, wire.moderation(body, "modr-" + uuid.uuid4().hex), fault)

    # --- response delivery (normal and faulted) -------------------------------------------------

    async def _respond(
        self,
        ex: _Exchange,
        payload: dict[str, Any] | bytes,
        fault: _Fault | None,
        content_type: str = "application/json",
    ) -> None:
        """A whole (content-length) body: JSON `payload`, or raw bytes of `content_type`."""
        kind = fault.kind if fault is not None else None
        if kind == "garbage":
            await ex.start(200, "text/html; charset=utf-8", {}, len(_GARBAGE))
            await ex.end(_GARBAGE)
            return
        body = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
        await ex.start(200, content_type, {}, len(body))
        if kind == "cut":
            await ex.chunk(body[: len(body) // 2])
            raise AbortConnection("fault-cut: dropped the connection mid-body")
        await ex.end(body)

    async def _stream(self, ex: _Exchange, chunks: list[dict[str, Any]], fault: _Fault | None) -> None:
        events = [_sse(chunk) for chunk in chunks] + [_DONE]
        if fault is not None and fault.kind == "garbage":
            events = [b"data: " + _GARBAGE + b"\n\n", _DONE]
        await self._send_chunked(
            ex, "text/event-stream; charset=utf-8", {"cache-control": "no-cache"}, events, fault
        )

    async def _send_chunked(
        self, ex: _Exchange, content_type: str, headers: dict[str, str], pieces: list[bytes], fault: _Fault | None
    ) -> None:
        """A chunked body (no content-length), one ASGI send per piece, paced/cut by the fault."""
        kind = fault.kind if fault is not None else None
        delay = fault.value if fault is not None and kind == "slow-stream" else 0.0
        cut = int(fault.value) if fault is not None and kind == "cut" else None
        await ex.start(200, content_type, headers, None)
        finished = await _race_disconnect(ex.receive, lambda: _produce(ex, pieces, delay, cut))
        if finished:
            await ex.end()
        else:
            self._count_disconnect()


async def _produce(ex: _Exchange, pieces: list[bytes], delay: float, cut: int | None) -> None:
    for index, piece in enumerate(pieces):
        if cut is not None and index >= cut:
            break
        if delay and index:
            await asyncio.sleep(delay)
        await ex.chunk(piece)
    if cut is not None:
        raise AbortConnection(f"fault-cut: dropped the stream after {cut} pieces")


async def _race_disconnect(receive: Receive, work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work` while watching for the client going away. False if it went away first."""
    producer = asyncio.ensure_future(work())
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (producer, watcher):
            if not task.done():
                task.cancel()
        await asyncio.gather(producer, watcher, return_exceptions=True)
    if watcher.done() and not watcher.cancelled():
        return False
    producer.result()  # re-raises AbortConnection for fault-cut
    return True


def _status(value: float, model: str) -> int:
    status = int(value)
    if status != value or not 400 <= status <= 599:
        raise wire.model_not_found(model)
    return status


def _meta(prefix: str, body: dict[str, Any]) -> wire.Meta:
    return wire.Meta(prefix + uuid.uuid4().hex[:29], int(time.time()), str(body["model"]))


def _decode(body: bytes) -> dict[str, Any]:
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise wire.invalid_json() from None
    if not isinstance(decoded, dict):
        raise wire.invalid_json()
    return decoded


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _recorded(scope: Scope, body: bytes) -> RecordedRequest:
    query = scope.get("query_string", b"").decode("latin-1")
    return RecordedRequest(str(scope["method"]), str(scope["path"]), _headers(scope), body, query)
