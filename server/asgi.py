"""The ASGI entry point uvicorn imports in each worker process: the profile path comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from core.profile import LoadedProfile, load_profile

from .access import ASGIApp

__all__ = ["PROFILE_ENV", "app_from_env", "default_profile", "preload"]

PROFILE_ENV = "MODEL_RUNTIME_PROFILE"
_PACKAGE = Path(__file__).resolve().parent


def default_profile() -> str:
    """``$MODEL_RUNTIME_PROFILE``, else ``profiles/default.yaml`` here, in the source tree, or in the wheel."""
    if os.environ.get(PROFILE_ENV):
        return os.environ[PROFILE_ENV]
    candidates = [Path("profiles/default.yaml"), _PACKAGE.parent / "profiles/default.yaml",
                  _PACKAGE / "profiles/default.yaml"]  # the last one is the wheel's copy (pyproject.toml)
    return str(next((c for c in candidates if c.is_file()), candidates[0]))


_preloaded: tuple[LoadedProfile, tuple[int, int, int]] | None = None


def preload(loaded: LoadedProfile) -> None:
    """Keep a profile the serving process has just loaded, for :func:`app_from_env` in this process and in the
    workers forked from it (they start without reading ~250 YAML files again), as long as its file is unchanged:
    a worker started later, after the file was edited (and the other workers reloaded it), reads it again."""
    global _preloaded
    _preloaded = loaded, _stamp(loaded.file)


def _stamp(path: str) -> tuple[int, int, int]:
    try:
        found = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return found.st_mtime_ns, found.st_size, found.st_ino


def app_from_env() -> ASGIApp:
    """uvicorn factory: load :func:`default_profile` (unless it was preloaded) and build the app, with request ids
    and the access log."""
    path = default_profile()
    from .app import create_app  # here, not at import: see server/workers.py (shared metrics)

    if _preloaded is not None and _preloaded[0].file == path and _preloaded[1] == _stamp(path):
        loaded = _preloaded[0]
    else:
        loaded = load_profile(path)
    return create_app(loaded)
