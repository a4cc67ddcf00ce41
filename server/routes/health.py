"""``/health/live`` (the process answers) and ``/health/ready`` (the profile is loaded; per-instance details)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from ..version import VERSION
from ._reply import Req, runtime

__all__ = ["live", "ready"]


@get("/health/live", include_in_schema=True)
async def live() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@get("/health/ready")
async def ready(request: Req) -> Response[dict[str, Any]]:
    """Readiness, with the gateway's version, when the profile serving now was loaded (a reload's time, so that
    replicas behind a load balancer can be compared), each provider instance's state (``not_configured`` says
    what to set; ``details`` what the provider adds, such as a local model's load time) and the deployments
    resting after repeated failures (seconds left)."""
    rt = runtime(request)
    providers: dict[str, dict[str, Any]] = {}
    for spec in rt.loaded.instances.values():
        state: dict[str, Any] = {"provider": spec.plugin.id,
                                 "status": "ok" if spec.not_configured is None else "not_configured"}
        if spec.not_configured is not None:
            state["reason"] = spec.not_configured
        provider = rt.providers.get(spec.name)
        details = provider.health() if provider is not None else {}
        if details:
            state["details"] = details
        providers[spec.name] = state
    cooling = {deployment: round(left, 1) for deployment, left in rt.cooldowns.cooling().items()}
    body = {"status": "draining" if request.app.state.draining else "ready", "version": VERSION,
            "profile_loaded_at": rt.created, "providers": providers, "cooldowns": cooling, "in_flight": rt.in_flight}
    return Response(body, status_code=503 if request.app.state.draining else 200)
