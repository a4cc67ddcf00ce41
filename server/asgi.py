"""The ASGI entry point uvicorn imports in each worker process: the profile path comes from the environment."""

from __future__ import annotations

import os

from litestar import Litestar

from core.profile import load_profile

from .app import create_app

__all__ = ["PROFILE_ENV", "app_from_env"]

PROFILE_ENV = "MODEL_RUNTIME_PROFILE"
DEFAULT_PROFILE = "profiles/default.yaml"


def app_from_env() -> Litestar:
    """uvicorn factory: load ``$MODEL_RUNTIME_PROFILE`` (default ``profiles/default.yaml``) and build the app."""
    return create_app(load_profile(os.environ.get(PROFILE_ENV, DEFAULT_PROFILE)))
