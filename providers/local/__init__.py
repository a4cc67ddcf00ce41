"""Small models inside the gateway process (llama.cpp, numpy, espeak-ng): offline, no keys, no downloads."""

from .provider import LocalProvider

PROVIDER = LocalProvider

__all__ = ["PROVIDER", "LocalProvider"]
