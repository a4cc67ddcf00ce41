"""Rerank answers: whatever shape the upstream scores documents in, the client gets one.

Providers read the upstream's scores (:func:`read_scores` knows the Cohere family: Cohere, Jina, Voyage,
Xinference, vLLM, llama.cpp) and hand them to :func:`ranked`, which sorts them, applies ``score_threshold`` and
``top_n``, attaches the documents and encodes the :class:`~core.openai.rerank.RerankResponse`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import msgspec

from .errors import UpstreamError
from .model_types import JSONReply
from .openai.rerank import RerankDocument, RerankRequest, RerankResponse, RerankResult, RerankUsage
from .openai.usage import Usage

__all__ = ["ranked", "read_scores"]

_encode = msgspec.json.Encoder().encode


class _Scored(msgspec.Struct):
    index: int
    relevance_score: float


class _UsageIn(msgspec.Struct):
    prompt_tokens: int | None = None
    total_tokens: int | None = None


class _Tokens(msgspec.Struct):
    input_tokens: int | None = None


class _Billed(msgspec.Struct):
    search_units: int | None = None
    input_tokens: int | None = None


class _Meta(msgspec.Struct):
    billed_units: _Billed | None = None
    tokens: _Tokens | None = None


class _Ranking(msgspec.Struct):
    results: list[_Scored] | None = None  # Cohere, Jina, Xinference, vLLM, llama.cpp
    data: list[_Scored] | None = None  # Voyage
    usage: _UsageIn | None = None
    meta: _Meta | None = None


_decode_ranking = msgspec.json.Decoder(_Ranking).decode


def read_scores(content: bytes, provider: str) -> tuple[list[tuple[int, float]], RerankUsage | None]:
    """``(index, score)`` pairs and the billed usage of a Cohere-family rerank answer."""
    try:
        ranking = _decode_ranking(content)
    except msgspec.MsgspecError:
        ranking = None
    scored = None if ranking is None else ranking.results if ranking.results is not None else ranking.data
    if ranking is None or scored is None:
        raise UpstreamError(f"provider instance '{provider}' answered the rerank call in an unknown shape",
                            code="upstream_invalid_response")
    return [(s.index, s.relevance_score) for s in scored], _usage(ranking)


def _usage(ranking: _Ranking) -> RerankUsage | None:
    tokens = None
    if ranking.usage is not None:
        tokens = ranking.usage.total_tokens if ranking.usage.total_tokens is not None else ranking.usage.prompt_tokens
    meta = ranking.meta
    if tokens is None and meta is not None:
        if meta.tokens is not None:
            tokens = meta.tokens.input_tokens
        elif meta.billed_units is not None:
            tokens = meta.billed_units.input_tokens
    units = meta.billed_units.search_units if meta is not None and meta.billed_units is not None else None
    if tokens is None and units is None:
        return None
    return RerankUsage(prompt_tokens=tokens, total_tokens=tokens, search_units=units)


def ranked(request: RerankRequest, scores: Iterable[tuple[int, float]], model: str, provider: str,
           usage: RerankUsage | None = None) -> JSONReply:
    """The client's answer: best first, above ``score_threshold``, at most ``top_n``, with documents unless the
    client said ``return_documents: false``.

    Its usage for pricing counts tokens, or Cohere's search units when that is all the upstream billed.
    """
    texts = request.texts()
    results: list[RerankResult] = []
    seen: set[int] = set()
    for index, score in scores:
        if not 0 <= index < len(texts) or index in seen:
            raise UpstreamError(f"provider instance '{provider}' ranked a document that was not sent (index {index})",
                                code="upstream_invalid_response")
        seen.add(index)
        if request.score_threshold is None or score >= request.score_threshold:
            results.append(RerankResult(index=index, relevance_score=score))
    results.sort(key=lambda r: -r.relevance_score)
    if request.limit is not None:
        del results[request.limit:]
    if request.return_documents is not False:
        for result in results:
            result.document = RerankDocument(text=texts[result.index])
    body = RerankResponse(id=f"rerank-{uuid.uuid4().hex}", object="list", model=model, results=results, usage=usage)
    return JSONReply(_encode(body), _priced(usage))


def _priced(usage: RerankUsage | None) -> Usage | None:
    if usage is None:
        return None
    units = usage.total_tokens if usage.total_tokens is not None else usage.search_units
    return None if units is None else Usage(prompt_tokens=units, total_tokens=units)
