"""The model-type interfaces every provider implements, and ``Provider`` itself.

This is the seam between the server and the providers: small async Protocols, one per model type. The server
hands a provider the decoded request *and* the client's raw JSON object (so OpenAI-compatible providers forward
fields this gateway does not know yet); the provider answers with an encoded JSON body or an SSE event stream.
A provider raises only ``core.errors`` classes, and raises them before the first byte of a stream whenever the
upstream fails before answering, so the client gets a real HTTP status instead of ``200`` and a broken stream.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgspec

from .errors import InvalidRequestError
from .openai.audio import SpeechRequest, TranscriptionParams
from .openai.chat import ChatCompletionRequest
from .openai.completions import CompletionRequest
from .openai.embeddings import EmbeddingRequest
from .openai.moderations import ModerationRequest
from .openai.rerank import RerankRequest
from .openai.usage import Usage
from .schema import ModelSchema, ModelType, ProviderSchema
from .secrets import Redactor

__all__ = [
    "AudioFile",
    "AudioStream",
    "EventStream",
    "JSONReply",
    "LargeLanguageModel",
    "ModelTarget",
    "ModerationModel",
    "Provider",
    "ProviderContext",
    "RawBody",
    "RerankModel",
    "Speech2TextModel",
    "TTSModel",
    "TextEmbeddingModel",
]

RawBody = dict[str, Any]
"""The client's JSON object as received, unknown fields included."""


class ModelTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The model a call goes to at one provider instance."""

    name: str
    """The upstream's own name for the model."""
    model_type: ModelType
    credentials: Mapping[str, Any] = msgspec.field(default_factory=dict)
    """Model-level credentials of a customizable model (e.g. Xinference's ``model_uid``)."""
    schema: ModelSchema | None = None
    """The catalogue entry (parameter rules, pricing, context size) when the model is predefined."""
    timeout_s: float | None = None
    """A route deployment's own upstream timeout, replacing the router's."""
    params: Mapping[str, Any] = msgspec.field(default_factory=dict)
    """A route deployment's parameter overrides: they replace what the client sent."""


class JSONReply(msgspec.Struct, frozen=True):
    """A complete response body, already encoded (JSON unless ``media_type`` says otherwise: a transcription asked
    for as ``text`` or ``srt``), with its usage when known."""

    body: bytes
    usage: Usage | None = None
    media_type: str = "application/json"


class AudioFile(msgspec.Struct, frozen=True):
    """An uploaded audio file, read whole (its size is bounded by ``server.max_audio_bytes``)."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


class AudioStream:
    """Synthesized audio passed to the client chunk by chunk as the upstream sends it.

    ``usage`` counts input characters in ``prompt_tokens`` (how speech is priced), so a cost is known before the
    first byte.
    """

    def __init__(self, chunks: AsyncIterator[bytes], media_type: str, close: Callable[[], Awaitable[None]],
                 usage: Usage | None = None) -> None:
        self._chunks, self._close = chunks, close
        self.media_type, self.usage = media_type, usage

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        """Stop early and close the upstream connection."""
        await self._close()


class EventStream(Protocol):
    """A server-sent event stream: each item is one or more complete events, ``data: [DONE]`` last.

    A failure after the stream started is yielded as a final ``data: {"error": ...}`` event, never raised.
    """

    @property
    def usage(self) -> Usage | None:
        """What the stream used, once it ended and when the provider reported it, whether or not the client asked
        to see it (``stream_options.include_usage``): limits and usage records count it."""
        ...

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate over encoded events."""
        ...

    async def aclose(self) -> None:
        """Stop early and close the upstream connection (the client went away)."""
        ...


class LargeLanguageModel(Protocol):
    """Chat and legacy completions."""

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Answer a chat completion; a stream when ``request.stream`` is true."""
        ...

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """Answer a legacy text completion; a stream when ``request.stream`` is true."""
        ...


class TextEmbeddingModel(Protocol):
    """Text embeddings: one vector per input, in input order."""

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """Embed every input of the batch."""
        ...


class RerankModel(Protocol):
    """Document reranking."""

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """Score documents against the query: a ``RerankResponse`` built with :func:`core.rerank.ranked`."""
        ...


class Speech2TextModel(Protocol):
    """Speech to text."""

    async def transcribe(self, target: ModelTarget, request: TranscriptionParams, raw: RawBody, audio: AudioFile,
                         translate: bool) -> JSONReply:
        """Transcribe (or translate into English) one audio file, in the ``response_format`` asked for."""
        ...


class TTSModel(Protocol):
    """Text to speech."""

    async def speech(self, target: ModelTarget, request: SpeechRequest, raw: RawBody) -> AudioStream:
        """Synthesize speech; returned once the upstream answered, its audio still arriving."""
        ...


class ModerationModel(Protocol):
    """Content moderation."""

    async def moderate(self, target: ModelTarget, request: ModerationRequest, raw: RawBody) -> JSONReply:
        """Classify each input: OpenAI's moderation response."""
        ...


class ProviderContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider instance is built from: its profile entry, checked, plus the router's timeouts."""

    name: str
    schema: ProviderSchema
    credentials: Mapping[str, Any]
    credential_hint: str
    """Where an operator fixes the credentials (``OPENAI_API_KEY``), for messages that must not show them."""
    timeout_s: float
    connect_timeout_s: float


class Provider(abc.ABC):
    """One configured provider instance: its credentials, its pooled HTTP client and its model types.

    Built once at start-up from the profile and closed at shutdown. A model type the provider does not
    support raises :class:`~core.errors.InvalidRequestError`.
    """

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.name = context.name
        secret_names = context.schema.secret_variables()
        self.redact = Redactor(str(v) for k, v in context.credentials.items() if k in secret_names and v)

    def llm(self) -> LargeLanguageModel:
        """The LLM interface."""
        raise self._unsupported(ModelType.LLM)

    def text_embedding(self) -> TextEmbeddingModel:
        """The text embedding interface."""
        raise self._unsupported(ModelType.TEXT_EMBEDDING)

    def rerank(self) -> RerankModel:
        """The rerank interface."""
        raise self._unsupported(ModelType.RERANK)

    def speech2text(self) -> Speech2TextModel:
        """The speech-to-text interface."""
        raise self._unsupported(ModelType.SPEECH2TEXT)

    def tts(self) -> TTSModel:
        """The text-to-speech interface."""
        raise self._unsupported(ModelType.TTS)

    def moderation(self) -> ModerationModel:
        """The moderation interface."""
        raise self._unsupported(ModelType.MODERATION)

    @abc.abstractmethod
    async def validate_credentials(self) -> None:
        """Check the credentials against the upstream; raise ``CredentialsValidateFailedError`` if rejected."""

    @classmethod  # noqa: B027 - an optional hook: most providers have nothing to add
    def check_credential_values(cls, credentials: Mapping[str, Any]) -> None:
        """Reject values that pass their form but cannot work (a malformed URL); run at load and before validation.

        Raises :class:`~core.credentials.CredentialValueError`.
        """

    @classmethod
    def unavailable(cls) -> str | None:
        """Why the plug-in cannot serve on this machine, as what the operator should do (``install ...``), or None.

        For plug-ins that run models in-process from an optional extra: an instance of one that is not installed
        is reported as not configured, with this as the reason.
        """
        return None

    def health(self) -> dict[str, Any]:
        """Details for ``/health/ready`` beyond configured or not (an in-process model's load state and time)."""
        return {}

    @classmethod
    def customizable_model_schema(cls, model: str, model_type: ModelType,
                                  credentials: Mapping[str, Any]) -> ModelSchema | None:
        """The catalogue entry of a customizable model, derived from its model credentials (Dify's
        ``get_customizable_model_schema``); ``None`` when the provider derives none.

        Raises :class:`~core.credentials.CredentialValueError` for a credential that makes no sense.
        """
        return None

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """Check that ``target`` answers with these credentials (a customizable model); default: the provider check."""
        await self.validate_credentials()

    async def remote_models(self) -> list[str]:
        """The model names the upstream lists (providers with ``fetch-from-remote``)."""
        raise InvalidRequestError(f"provider instance '{self.name}' cannot list its models", param="instance",
                                  code="not_supported")

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers override it
        """Release pooled connections."""

    def _unsupported(self, model_type: ModelType) -> InvalidRequestError:
        return InvalidRequestError(f"provider instance '{self.name}' does not serve {model_type} models",
                                   param="model", code="model_type_not_supported")
