"""The Litestar app that publishes the OpenAI endpoints in front of the providers."""

from .app import create_app

__all__ = ["create_app"]
