"""The gateway's version as installed (``pyproject.toml``): in the OpenAPI document and ``/health/ready``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("model-runtime")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
