"""``/health/live`` (the process answers) and ``/health/ready`` (the profile is loaded; per-instance details)."""

from __future__ import annotations

from typing import Any

from litestar import get

from ._reply import Req, runtime

__all__ = ["live", "ready"]


@get("/health/live", include_in_schema=True)
async def live() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@get("/health/ready")
async def ready(request: Req) -> dict[str, Any]:
    """Readiness, with each provider instance's state (``not_configured`` says what to set) and the deployments
    resting after repeated failures (seconds left)."""
    rt = runtime(request)
    providers: dict[str, dict[str, str]] = {}
    for spec in rt.loaded.instances.values():
        state = {"provider": spec.plugin.id, "status": "ok" if spec.not_configured is None else "not_configured"}
        if spec.not_configured is not None:
            state["reason"] = spec.not_configured
        providers[spec.name] = state
    cooling = {deployment: round(left, 1) for deployment, left in rt.cooldowns.cooling().items()}
    return {"status": "ready", "providers": providers, "cooldowns": cooling, "in_flight": rt.in_flight}
