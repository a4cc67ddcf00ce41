"""Azure OpenAI: OpenAI models by deployment, with the api-key header and the API version."""

from .provider import AzureOpenAIProvider

PROVIDER = AzureOpenAIProvider

__all__ = ["PROVIDER", "AzureOpenAIProvider"]
