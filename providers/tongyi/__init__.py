"""Tongyi Qianwen: Qwen chat, embedding and rerank models through Alibaba Cloud DashScope's native API."""

from .provider import TongyiProvider

PROVIDER = TongyiProvider

__all__ = ["PROVIDER", "TongyiProvider"]
