"""Deterministic relevance for the fake rerank upstreams: shared words, so a test knows the right order."""

from __future__ import annotations

import re

__all__ = ["relevance", "word_count"]

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def word_count(text: str) -> int:
    """Words in ``text``: the fakes' token count."""
    return len(_WORD.findall(text))


def relevance(query: str, document: str) -> float:
    """The share of the query's distinct words found in the document, in [0, 1], nudged by the document's length
    so that ties are rare and the order is stable."""
    query_words = _words(query)
    if not query_words:
        return 0.0
    shared = len(query_words & _words(document)) / len(query_words)
    return round(shared * 0.98 + 0.02 / (1 + len(document)), 6)
