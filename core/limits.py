"""Who may call what, how often: gateway key policies, admission decisions and what a finished call used.

Everything here is plain data and arithmetic; :mod:`core.state` keeps the counters (in this process or in Redis).

Windows are fixed one-minute windows that start with their first request (``INCR`` + ``PEXPIRE`` in Redis): a
key limited to N rpm gets exactly N requests in any window, whatever the number of replicas, and ``Retry-After``
is the time left in the window. Tokens are charged after a call, from the usage its response reports, and checked
before the next one: a call is admitted while the window has tokens left (OpenAI's rule), so one large call may
overshoot ``tpm`` once. Budgets work the same way per calendar day or month (UTC), in the models' currency.
"""

from __future__ import annotations

import fnmatch
import re
import time
from datetime import UTC, datetime
from typing import Literal

import msgspec

from .server_config import KeyConfig

__all__ = [
    "WINDOW_S",
    "Admission",
    "DeploymentLimit",
    "KeyPolicy",
    "Settlement",
    "budget_period",
    "compile_globs",
]

WINDOW_S = 60.0
Reason = Literal["", "requests", "tokens", "parallel", "budget"]


def compile_globs(globs: list[str]) -> re.Pattern[str] | None:
    """One regex for a list of shell globs; None when ``*`` is among them (everything matches, nothing to do)."""
    if "*" in globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs) or r"(?!)")


class KeyPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A gateway key once loaded: its name, scopes and limits (never the secret)."""

    name: str
    admin: bool = False
    models: re.Pattern[str] | None = None
    """Allowed model names, or None for any."""
    paths: re.Pattern[str] | None = None
    """Allowed API paths, or None for any."""
    rpm: int = 0
    tpm: int = 0
    max_parallel: int = 0
    budget: float = 0.0
    budget_period: Literal["day", "month"] = "month"
    limited: bool = False
    """Whether any counter applies (else admission costs nothing)."""

    @classmethod
    def from_config(cls, config: KeyConfig) -> KeyPolicy:
        """The policy of a ``server.keys`` entry; 0 stands for unlimited."""
        budget = config.budget
        return cls(name=config.name, admin=config.admin, models=compile_globs(config.models),
                   paths=compile_globs(config.paths), rpm=config.rpm or 0, tpm=config.tpm or 0,
                   max_parallel=config.max_parallel or 0, budget=budget.amount if budget else 0.0,
                   budget_period=budget.period if budget else "month",
                   limited=bool(config.rpm or config.tpm or config.max_parallel or budget))

    def may_use_model(self, model: str) -> bool:
        """Whether ``model`` (as the client named it) is in this key's scope."""
        return self.models is None or self.models.fullmatch(model) is not None

    def may_use_path(self, path: str) -> bool:
        """Whether the API ``path`` is in this key's scope."""
        return self.paths is None or self.paths.fullmatch(path) is not None


class Admission(msgspec.Struct, kw_only=True):
    """The answer to "may this key start a call now?", with what the ``x-ratelimit-*`` headers report."""

    reason: Reason = ""
    """Empty when admitted; else the limit that refused it."""
    requests_left: int = 0
    tokens_left: int = 0
    retry_after_s: float = 0.0
    requests_reset_s: float = 0.0
    tokens_reset_s: float = 0.0
    held: bool = False
    """Whether a parallel slot was taken (and must be given back by the settlement)."""

    @property
    def admitted(self) -> bool:
        """Whether the call may go ahead."""
        return not self.reason


class Settlement(msgspec.Struct, kw_only=True):
    """What a finished call used, for limits and usage: one per admitted request."""

    key: str
    """The key's name ("" on an open gateway)."""
    model: str
    deployment: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    error: bool = False

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens, what ``tpm`` counts."""
        return self.prompt_tokens + self.completion_tokens


class DeploymentLimit(msgspec.Struct, frozen=True):
    """A route deployment's own ``rpm`` / ``tpm`` (0: unlimited)."""

    rpm: int = 0
    tpm: int = 0


def budget_period(period: Literal["day", "month"], now: float | None = None) -> tuple[str, float]:
    """The id of the current budget period (``2026-11-29`` or ``2026-11``) and the seconds until it ends."""
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    if period == "day":
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start.timestamp() + 86400
        return start.strftime("%Y-%m-%d"), end - at.timestamp()
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    end = datetime(year, month, 1, tzinfo=UTC).timestamp()
    return at.strftime("%Y-%m"), end - at.timestamp()
