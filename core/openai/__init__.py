"""The OpenAI API's wire objects as msgspec Structs, named as OpenAI names them."""

from .base import WireBase
from .chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessage,
    ContentPart,
)
from .completions import Completion, CompletionRequest
from .embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from .errors import ErrorBody, ErrorDetail
from .models import Model, ModelList
from .usage import Usage

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "ContentPart",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "ErrorBody",
    "ErrorDetail",
    "Model",
    "ModelList",
    "Usage",
    "WireBase",
]
