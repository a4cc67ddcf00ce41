"""Shared core of the fake embedding/rerank upstreams (`FakeJina`, `FakeVoyage`).

`RetrievalUpstream` extends `upstream_kit.FakeUpstream` (lifecycle, `requests` recording as `RecordedRequest`,
`clear()`, `disconnects`, fault parsing and response plumbing) with what both hosted APIs share: `base_url` ending
in `/v1`, `POST`-only JSON routes, `Authorization: Bearer <key>` extraction and the order a request is checked in
(path, method, key, JSON body, fault, then the subclass's validation and reply). Faults are chosen by the request's
`model` (or the server-wide `fault` attribute):

* `fault-status-<code>`: that HTTP status with the provider's error body (built by the subclass).
* `fault-stall-<seconds>`: wait before answering normally (gives up if the client disconnects).
* `fault-garbage`: 200 `text/html` non-JSON body (after the request was validated).

A subclass supplies the provider's own errors (`not_found`, `method_not_allowed`, `authenticate`, `invalid_json`,
`fault_status`) and `answer(path, body)`, which validates a decoded body and returns the JSON reply or raises
`UpstreamError`. The helpers below build what both providers return: deterministic vectors (the re-normalised
prefix property of `openai_wire.embedding_vector`), their int8/uint8/binary/ubinary quantisations and base64
packings, and rerank orders and token counts from `relevance`.
"""

from __future__ import annotations

import base64
import struct
from typing import Any, ClassVar, Literal

import msgspec

from tests.fakes.openai_wire import embedding_vector
from tests.fakes.relevance import relevance, word_count
from tests.fakes.upstream_kit import JSON, Exchange, FakeUpstream, HTTPError, Request

__all__ = [
    "JSON",
    "Quantized",
    "RetrievalUpstream",
    "UpstreamError",
    "float32_base64",
    "integers_base64",
    "quantize",
    "rerank_order",
    "rerank_tokens",
    "text_tokens",
    "unit_vector",
]

Quantized = Literal["int8", "uint8", "binary", "ubinary"]


class UpstreamError(HTTPError):
    """A provider error response with a JSON body (kept as `payload` for assertions)."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, msgspec.json.encode(payload), "application/json", headers)
        self.payload = payload


# --- deterministic replies ----------------------------------------------------------------------


def text_tokens(text: str) -> int:
    """Token count of one input: its words, at least 1."""
    return max(1, word_count(text))


def unit_vector(key: str, dims: int) -> list[float]:
    """Deterministic unit vector (float32 precision) for `key`; a shorter one is the re-normalised prefix."""
    return embedding_vector(key.encode(), dims)


def float32_base64(values: list[float]) -> str:
    """Little-endian float32 bytes, base64 (what numpy `frombuffer(..., float32)` decodes)."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def integers_base64(values: list[int], *, signed: bool) -> str:
    """One byte per value (int8 or uint8), base64."""
    return base64.b64encode(struct.pack(f"<{len(values)}{'b' if signed else 'B'}", *values)).decode()


def quantize(vector: list[float], dtype: Quantized) -> list[int]:
    """int8/uint8: one integer per dimension; ubinary: the sign bits packed 8 per byte (first dimension in the
    most significant bit); binary: the same bytes offset by -128 into int8 (so `len == dims // 8`)."""
    if dtype == "int8":
        return [max(-128, min(127, round(v * 127))) for v in vector]
    if dtype == "uint8":
        return [max(0, min(255, round((v + 1.0) * 127.5))) for v in vector]
    packed = []
    for start in range(0, len(vector) - len(vector) % 8, 8):
        byte = 0
        for value in vector[start : start + 8]:
            byte = (byte << 1) | (1 if value > 0 else 0)
        packed.append(byte)
    return packed if dtype == "ubinary" else [b - 128 for b in packed]


def rerank_order(query: str, texts: list[str]) -> list[tuple[int, float]]:
    """(index, relevance score) of every document, best first (ties keep input order)."""
    scored = [(index, relevance(query, text)) for index, text in enumerate(texts)]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


def rerank_tokens(query: str, texts: list[str]) -> int:
    """Query tokens times the number of documents plus all document tokens."""
    return text_tokens(query) * len(texts) + sum(text_tokens(text) for text in texts)


# --- the server ---------------------------------------------------------------------------------


class RetrievalUpstream(FakeUpstream):
    """Base of the hosted embedding/rerank fakes; also usable as `with Fake(...) as fake:`."""

    routes: ClassVar[frozenset[str]] = frozenset()  # POST paths
    server_name = "fake-retrieval"
    api_key: str

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- provider hooks (subclasses override) ---------------------------------------------------

    def not_found(self, method: str, path: str) -> UpstreamError:
        return UpstreamError(404, {"detail": "Not Found"})

    def method_not_allowed(self, method: str, path: str) -> UpstreamError:
        return UpstreamError(405, {"detail": "Method Not Allowed"}, {"allow": "POST"})

    def authenticate(self, key: str | None) -> None:
        """Raise the provider's error unless `key` (the bearer token, None when absent) is the right one."""
        raise NotImplementedError

    def invalid_json(self, body: bytes) -> UpstreamError:
        raise NotImplementedError

    def fault_status(self, status: int, path: str) -> UpstreamError:
        raise NotImplementedError

    def answer(self, path: str, body: JSON) -> JSON:
        raise NotImplementedError

    # --- request flow ---------------------------------------------------------------------------

    async def handle(self, request: Request, exchange: Exchange) -> None:
        if request.path not in self.routes:
            raise self.not_found(request.method, request.path)
        if request.method != "POST":
            raise self.method_not_allowed(request.method, request.path)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        self.authenticate((key.strip() or None) if scheme.lower() == "bearer" else None)
        try:
            body = msgspec.json.decode(request.body)
        except msgspec.DecodeError:
            raise self.invalid_json(request.body) from None
        if not isinstance(body, dict):
            raise self.invalid_json(request.body)
        fault = self.fault_for(body.get("model"))
        if fault is not None and fault.kind == "status":
            raise self.fault_status(fault.status, request.path)
        if fault is not None and fault.kind == "stall" and not await self.stall(exchange, fault.value):
            return
        payload = self.answer(request.path, body)
        if fault is not None and fault.kind == "garbage":
            await exchange.garbage()
        else:
            await exchange.json(200, payload)
