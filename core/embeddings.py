"""Embeddings for upstreams that do not speak OpenAI's format: texts out of the request, OpenAI's answer back."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from .errors import InvalidRequestError, ModelRuntimeError, UpstreamError
from .model_types import JSONReply
from .openai.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from .openai.usage import Usage

__all__ = ["Vectors", "embed_in_batches", "embedding_reply", "read_vectors", "texts_of"]

Vectors = tuple[list[list[float]], int | None]
"""Vectors in input order, and the tokens billed for them when the upstream says."""

_encode = msgspec.json.Encoder().encode


def texts_of(request: EmbeddingRequest, provider: str) -> list[str]:
    """The inputs as texts; token-id inputs are OpenAI's own and other upstreams cannot take them."""
    inputs = [request.input] if isinstance(request.input, str) else request.input
    if not all(isinstance(item, str) for item in inputs):
        raise InvalidRequestError(f"provider instance '{provider}' embeds text only; send 'input' as strings, not "
                                  "token ids.", param="input", code="invalid_value")
    return [item for item in inputs if isinstance(item, str)]


async def embed_in_batches(texts: list[str], size: int,
                           embed: Callable[[list[str]], Coroutine[Any, Any, Vectors]]) -> Vectors:
    """``embed`` called concurrently on consecutive batches of at most ``size`` texts (the upstream's limit per
    call), the vectors joined in input order; the first failure cancels the other calls."""
    if len(texts) <= size:
        return await embed(texts)
    try:
        async with asyncio.TaskGroup() as group:
            calls = [group.create_task(embed(texts[i:i + size])) for i in range(0, len(texts), size)]
    except BaseExceptionGroup as failed:  # the calls' own errors (mapped: status, retries), not the group
        raise next((e for e in failed.exceptions if isinstance(e, ModelRuntimeError)),
                   failed.exceptions[0]) from None
    vectors: list[list[float]] = []
    tokens: int | None = 0
    for call in calls:
        part_vectors, part_tokens = call.result()
        vectors += part_vectors
        tokens = None if tokens is None or part_tokens is None else tokens + part_tokens
    return vectors, tokens


def embedding_reply(vectors: list[list[float]], model: str, tokens: int | None,
                    encoding_format: str | None) -> JSONReply:
    """OpenAI's embeddings response: one vector per input in order, base64 of little-endian float32 when asked."""
    data = [Embedding(index=i, embedding=_base64(v) if encoding_format == "base64" else v)
            for i, v in enumerate(vectors)]
    usage = Usage(prompt_tokens=tokens, total_tokens=tokens) if tokens is not None else None
    return JSONReply(_encode(EmbeddingResponse(data=data, model=model, usage=usage)), usage)


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


class _Item(msgspec.Struct):
    index: int
    embedding: list[float]


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    total_tokens: int | None = None


class _Listed(msgspec.Struct):
    data: list[_Item]
    usage: _Usage | None = None


_decode_listed = msgspec.json.Decoder(_Listed).decode


def read_vectors(content: bytes, expected: int, provider: str) -> Vectors:
    """Float vectors in input order and the tokens billed, from an answer shaped like OpenAI's (Jina, Voyage)."""
    try:
        listed = _decode_listed(content)
    except msgspec.MsgspecError:
        listed = None
    if listed is None or sorted(item.index for item in listed.data) != list(range(expected)):
        raise UpstreamError(f"provider instance '{provider}' answered the embeddings call in an unknown shape",
                            code="upstream_invalid_response")
    usage = listed.usage
    tokens = None if usage is None else usage.total_tokens if usage.total_tokens is not None else usage.prompt_tokens
    return [item.embedding for item in sorted(listed.data, key=lambda item: item.index)], tokens
