"""Zhipu AI: GLM chat and embedding models through the OpenAI-shaped v4 API of open.bigmodel.cn."""

from .provider import ZhipuAIProvider

PROVIDER = ZhipuAIProvider

__all__ = ["PROVIDER", "ZhipuAIProvider"]
