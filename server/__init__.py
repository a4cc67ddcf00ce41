"""The Litestar app that publishes the OpenAI endpoints in front of the providers.

``create_app`` is imported on first use, so that ``model-runtime serve`` can prepare the environment (shared
metrics for several workers) before Litestar and prometheus-client load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
