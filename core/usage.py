"""Usage per key, model and deployment: the rows the state keeps and the report ``GET /v1/usage`` answers."""

from __future__ import annotations

import msgspec

from .limits import Settlement

__all__ = ["UsageEntry", "UsageReport", "UsageRow", "report"]


class UsageRow(msgspec.Struct, kw_only=True):
    """Usage of one key with one model at one deployment, since the state began."""

    key: str
    model: str
    deployment: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, settled: Settlement) -> None:
        """Count one finished call."""
        self.requests += 1
        self.errors += settled.error
        self.prompt_tokens += settled.prompt_tokens
        self.completion_tokens += settled.completion_tokens
        self.cost += settled.cost


class UsageEntry(msgspec.Struct, kw_only=True):
    """One row of the report (the totals too, with empty names)."""

    key: str
    model: str
    deployment: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class UsageReport(msgspec.Struct, kw_only=True):
    """``GET /v1/usage``: rows, largest cost first, then most requests, and their sum."""

    object: str = "list"
    data: list[UsageEntry]
    totals: UsageEntry


def report(rows: list[UsageRow]) -> UsageReport:
    """The report of ``rows``."""
    rows = sorted(rows, key=lambda r: (-r.cost, -r.requests, r.key, r.model, r.deployment))
    total = UsageRow(key="", model="", deployment="")
    for row in rows:
        total.requests += row.requests
        total.errors += row.errors
        total.prompt_tokens += row.prompt_tokens
        total.completion_tokens += row.completion_tokens
        total.cost += row.cost
    return UsageReport(data=[_entry(r) for r in rows], totals=_entry(total))


def _entry(row: UsageRow) -> UsageEntry:
    return UsageEntry(key=row.key, model=row.model, deployment=row.deployment, requests=row.requests,
                      errors=row.errors, prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
                      total_tokens=row.prompt_tokens + row.completion_tokens, cost=round(row.cost, 10))
