"""Any server that speaks OpenAI's wire format: the request goes through as the client sent it.

The client's raw JSON object is forwarded with only ``model`` replaced by the upstream's name, so parameters
this gateway does not know yet still work. Responses pass through untouched once checked to be JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import httpx
import msgspec

from core import errors
from core.credentials import CredentialValueError, positive_int
from core.http import FetchedResponse, Upstream
from core.model_types import (
    AudioFile,
    AudioStream,
    EventStream,
    JSONReply,
    ModelTarget,
    Provider,
    ProviderContext,
    RawBody,
)
from core.openai.audio import SpeechRequest, TranscriptionParams
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.openai.moderations import ModerationRequest
from core.openai.rerank import RerankRequest
from core.openai.usage import Usage
from core.parameters import resolve_rule
from core.rerank import ranked, read_scores
from core.schema import ConfigurateMethod, ModelSchema, ModelType, ParameterRule

from .audio import audio_stream, multipart, read_transcription_usage
from .errors import error_from_response, map_errors
from .history import ASSISTANT_FIELDS, for_upstream
from .stream import SSEPassthrough

__all__ = ["OpenAICompatibleProvider"]

USER_AGENT = "model-runtime/0.1"
_JSON = {"content-type": "application/json"}
_encode = msgspec.json.Encoder().encode


class _Envelope(msgspec.Struct):
    """The only part of a response the gateway reads."""

    usage: msgspec.Raw = msgspec.Raw()  # empty when absent


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_any = msgspec.json.Decoder(msgspec.Raw).decode


_SPACE = frozenset(b" \t\r\n")
_OPEN, _CLOSE = ord("{"), ord("}")
_decode_usage = msgspec.json.Decoder(Usage, strict=False).decode


def read_usage(content: bytes) -> Usage | None:
    """The usage of a JSON body, or ``None`` when it has none or an odd one; raises ``DecodeError`` if not JSON.

    Only the JSON itself is checked: a body that is an array, or whose usage has ``null`` or fractional counts,
    still goes to the client untouched. When ``usage`` is the object's last member, as OpenAI-wire servers write
    embeddings, only it is decoded and the rest is checked for its object framing: decoding 6,144 floats to
    find two counts was 8% of an embeddings call.
    """
    usage = _last_usage(content)
    if usage is None:
        try:
            usage = _decode_envelope(content).usage
        except msgspec.ValidationError:  # valid so far, but not the usual shape: prove it is JSON at all
            _decode_any(content)
            return None
    if not usage or bytes(usage) == b"null":
        return None
    try:
        return _decode_usage(usage)
    except msgspec.ValidationError:
        return None


def _last_usage(content: bytes) -> bytes | None:
    """The raw value of ``"usage"`` when it is the last member of the top-level object, else ``None``."""
    start, end = 0, len(content)
    while end and content[end - 1] in _SPACE:  # indices, not stripped copies of a 120 KB body
        end -= 1
    while start < end and content[start] in _SPACE:
        start += 1
    at = content.rfind(b'"usage"', start, end)
    if at <= start or content[start] != _OPEN or content[end - 1] != _CLOSE:
        return None
    value = content[at + 7:end - 1].lstrip()
    if value[:1] != b":":
        return None  # "usage" was a string value, not a key
    try:
        _decode_any(value[1:])  # one JSON value and nothing after it: it really was the last member
    except msgspec.DecodeError:
        return None  # a nested "usage", or "usage" not last: read the whole body
    return value[1:]


class _ListedModel(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_ListedModel]


_decode_model_list = msgspec.json.Decoder(_ModelList).decode


_RERANK_OWN = frozenset({"score_threshold", "top_k", "return_documents"})
"""Rerank fields the gateway applies itself rather than forwarding."""


class OpenAICompatibleProvider(Provider):
    """Every model type over OpenAI's routes: ``{base_url}/chat/completions``, ``embeddings``, ``audio/...``,
    ``moderations``, and ``rerank`` as vLLM, llama.cpp and Xinference serve it next to them."""

    default_base_url: str | None = None
    rerank_fields: dict[str, Any] = {}
    """Fields added to every rerank call (Jina: ``return_documents: false``, the gateway attaches them)."""
    stream_usage = False
    """Whether the upstream takes ``stream_options.include_usage``. If so, a stream the client asked for without it
    is asked with it, so that its tokens count against keys' limits and in usage, and the usage chunk is kept from
    the client. Off for a generic OpenAI-compatible server (some reject options they do not know) unless its
    instance says ``stream_usage: support`` (vLLM, llama.cpp, Ollama and LiteLLM take it)."""

    assistant_fields: frozenset[str] | None = None
    """The fields of an assistant message the upstream takes, when it refuses any other (:mod:`.history`);
    ``None``: it takes what it does not know. A YAML-only plug-in lists its upstream's in ``provider.yaml``
    (``extra: {assistant_fields: [...]}``); a generic instance in front of a strict server says
    ``history_fields: openai`` (OpenAI's fields only)."""

    roles: dict[str, str] | None = None
    """Roles the upstream does not know, and the ones it takes instead (``extra: {roles: {developer: system}}``)."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        extra = context.schema.extra or {}
        fields = extra.get("assistant_fields")
        if isinstance(fields, list):
            self.assistant_fields = frozenset(map(str, fields))
        if isinstance(extra.get("roles"), dict):
            self.roles = {str(role): str(instead) for role, instead in extra["roles"].items()}
        if context.credentials.get("history_fields") == "openai":  # a strict server behind a generic instance
            self.assistant_fields = ASSISTANT_FIELDS
        if "stream_usage" in context.credentials:
            self.stream_usage = context.credentials["stream_usage"] == "support"
        self.upstream = Upstream(self.base_url(context.credentials).rstrip("/") + "/", self.auth_headers(),
                                 timeout_s=context.timeout_s,
                                 connect_timeout_s=context.connect_timeout_s)
        self.client = self.upstream.client

    @classmethod
    def base_url(cls, credentials: Mapping[str, Any]) -> str:
        """Where the OpenAI routes are: ``base_url``, or the provider's default."""
        return str(credentials.get("base_url") or cls.default_base_url or "")

    @classmethod
    def check_credential_values(cls, credentials: Mapping[str, Any]) -> None:
        """``base_url`` (``server_url``, ``endpoint``) must be an http(s) URL and ``api_key`` fit in an HTTP header."""
        for variable in ("base_url", "server_url", "endpoint"):
            value = credentials.get(variable)
            if not value:
                continue
            try:
                url = httpx.URL(str(value))
            except (httpx.InvalidURL, ValueError):
                url = None
            if url is None or url.scheme not in ("http", "https") or not url.host:
                raise CredentialValueError(variable, "must be an http:// or https:// URL")
        api_key = credentials.get("api_key")
        if api_key and not (str(api_key).isascii() and str(api_key).isprintable()):
            raise CredentialValueError("api_key", "must be printable ASCII (it is sent in an HTTP header)")

    @classmethod
    def customizable_model_schema(cls, model: str, model_type: ModelType,
                                  credentials: Mapping[str, Any]) -> ModelSchema | None:
        """Context size, an upper bound for ``max_tokens`` and image input, from the model's credentials."""
        context_size = positive_int(credentials, "context_size")
        properties: dict[str, Any] = {"context_size": context_size} if context_size else {}
        rules: list[ParameterRule] = []
        features: list[str] = []
        if model_type is ModelType.LLM:
            properties["mode"] = "chat"
            max_output = positive_int(credentials, "max_tokens_to_sample")
            rules.append(resolve_rule(ParameterRule(name="max_tokens", use_template="max_tokens",
                                                    max=float(max_output) if max_output else None)))
            if credentials.get("vision_support") == "support":
                features.append("vision")
        return ModelSchema(model=model, model_type=model_type, features=features, model_properties=properties,
                           parameter_rules=rules, fetch_from=ConfigurateMethod.CUSTOMIZABLE_MODEL)

    def auth_headers(self) -> dict[str, str]:
        """Headers sent with every upstream request."""
        headers = {"user-agent": USER_AGENT}
        api_key = self.context.credentials.get("api_key")
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    def llm(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.LLM)

    def text_embedding(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.TEXT_EMBEDDING)

    def rerank(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.RERANK)

    def speech2text(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.SPEECH2TEXT)

    def tts(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.TTS)

    def moderation(self) -> OpenAICompatibleProvider:
        return self._serving(ModelType.MODERATION)

    def _serving(self, model_type: ModelType) -> OpenAICompatibleProvider:
        """This instance as the interface of ``model_type``, if its ``provider.yaml`` lists that type (subclasses
        for upstreams with fewer routes list fewer)."""
        if model_type not in self.context.schema.supported_model_types:
            raise self._unsupported(model_type)
        return self

    def route(self, target: ModelTarget, path: str) -> str:
        """Where ``path`` (``chat/completions``, ``embeddings``, ...) is for ``target``, relative to the base URL
        (Azure: under the model's deployment, with the API version)."""
        return path

    def upstream_model(self, target: ModelTarget) -> str:
        """The name the upstream knows the model by (Xinference: the model's ``model_uid``)."""
        return target.name

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST chat/completions``."""
        return await self._generate("chat/completions", target, request, raw)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST completions``."""
        return await self._generate("completions", target, request, raw)

    async def _generate(self, path: str, target: ModelTarget, request: ChatCompletionRequest | CompletionRequest,
                        raw: RawBody) -> JSONReply | EventStream:
        body = self.with_model(raw, target)
        if path == "chat/completions":
            history = for_upstream(raw.get("messages"), self.assistant_fields, self.roles)
            if history is not None:
                body["messages"] = history
        asked = request.stream_options is not None and bool(request.stream_options.include_usage)
        hide = bool(request.stream) and self.asks_stream_usage(path, raw) and not asked
        if hide:
            body["stream_options"] = {**(raw.get("stream_options") or {}), "include_usage": True}
        return await self.post(self.route(target, path), body, bool(request.stream), target.timeout_s, hide)

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST embeddings``."""
        return await self.post_json(self.route(target, "embeddings"), self.with_model(raw, target), target.timeout_s)

    def asks_stream_usage(self, path: str, raw: RawBody) -> bool:
        """Whether a stream on ``path`` that the client did not ask for usage is asked for it (:attr:`stream_usage`)."""
        return self.stream_usage

    def with_model(self, raw: RawBody, target: ModelTarget) -> dict[str, Any]:
        """The client's body for the upstream: only ``model`` replaced."""
        return {**raw, "model": self.upstream_model(target)}

    async def rank(self, target: ModelTarget, request: RerankRequest, raw: RawBody) -> JSONReply:
        """``POST rerank`` (the Jina/Cohere shape), the documents sent as plain strings."""
        body = {k: v for k, v in raw.items() if k not in _RERANK_OWN}
        body.update(self.rerank_fields, model=self.upstream_model(target), documents=request.texts())
        if request.limit is not None and request.score_threshold is None:
            body["top_n"] = request.limit
        reply = await self.post_json(self.route(target, "rerank"), body, target.timeout_s)
        scores, usage = read_scores(reply.body, self.name)
        return ranked(request, scores, target.name, self.name, usage)

    async def transcribe(self, target: ModelTarget, request: TranscriptionParams, raw: RawBody, audio: AudioFile,
                         translate: bool) -> JSONReply:
        """``POST audio/transcriptions`` (or ``translations``) as multipart; the answer in the format asked for."""
        content, content_type = multipart({**raw, "model": self.upstream_model(target)}, audio)
        path = self.route(target, "audio/translations" if translate else "audio/transcriptions")
        response = await self._send(path, content, target.timeout_s, content_type)
        if request.response_format in ("text", "srt", "vtt"):
            with map_errors(self.context):
                text = await _read(response)
            media_type = response.headers.get("content-type", "text/plain; charset=utf-8")
            return JSONReply(text, None, media_type)
        reply = await self._read_json(response)
        return JSONReply(reply.body, read_transcription_usage(reply.body))

    async def speech(self, target: ModelTarget, request: SpeechRequest, raw: RawBody) -> AudioStream:
        """``POST audio/speech``: the audio streamed through as it arrives."""
        response = await self._send(self.route(target, "audio/speech"), _encode(self.with_model(raw, target)),
                                     target.timeout_s)
        return audio_stream(response, self.context, len(request.input))

    async def moderate(self, target: ModelTarget, request: ModerationRequest, raw: RawBody) -> JSONReply:
        """``POST moderations``."""
        return await self.post_json(self.route(target, "moderations"), self.with_model(raw, target), target.timeout_s)

    async def validate_credentials(self) -> None:
        """List the upstream's models: the cheapest authenticated call the OpenAI API has."""
        await self._validated(self.get_json("models"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """The smallest real call to the model: one generated token, or one embedded word."""
        model = self.upstream_model(target)
        if target.model_type is ModelType.LLM:
            body: dict[str, Any] = {"model": model, "max_tokens": 1,
                                    "messages": [{"role": "user", "content": "ping"}]}
            await self._validated(self.post_json(self.route(target, "chat/completions"), body))
        elif target.model_type is ModelType.TEXT_EMBEDDING:
            await self._validated(self.post_json(self.route(target, "embeddings"), {"model": model, "input": "ping"}))
        elif target.model_type is ModelType.RERANK:
            await self._validated(self.post_json(self.route(target, "rerank"),
                                                 {"model": model, "query": "ping", "documents": ["ping"]}))
        else:
            await self.validate_credentials()

    async def remote_models(self) -> list[str]:
        """``GET models``: the ids the server lists."""
        reply = await self.get_json("models")
        try:
            listed = _decode_model_list(reply.body)
        except msgspec.MsgspecError:
            raise errors.UpstreamError(f"provider instance '{self.name}' listed its models in an unknown shape",
                                       code="upstream_invalid_response") from None
        return [m.id for m in listed.data]

    async def _validated(self, upstream_call: Awaitable[JSONReply]) -> JSONReply:
        """The reply of a validation call; a rejection of the credentials or the model becomes the verdict."""
        try:
            return await upstream_call
        except (errors.InvalidRequestError, errors.AuthenticationError, errors.PermissionDeniedError,
                errors.NotFoundError) as exc:
            raise errors.CredentialsValidateFailedError(exc.message) from None

    def error_from(self, status: int, headers: httpx.Headers, content: bytes) -> errors.ModelRuntimeError:
        """The gateway error for an upstream error response (providers with their own error codes add them)."""
        return error_from_response(self.context, status, headers, content, self.redact)

    async def get_json(self, path: str) -> JSONReply:
        """``GET`` a JSON resource."""
        with map_errors(self.context):
            response = await self.upstream.fetch("GET", path)
            if response.status_code < 400:
                return await self._read_json(response)
            content = await _read(response)
        raise self.error_from(response.status_code, response.headers, content)

    async def post(self, path: str, body: dict[str, Any], stream: bool,
                   timeout_s: float | None = None, hide_usage: bool = False) -> JSONReply | EventStream:
        """Send one request that may stream; errors before the first byte are raised, not streamed. With
        ``hide_usage`` the stream's usage event is read but not passed on (see :attr:`stream_usage`)."""
        response = await self._send(path, _encode(body), timeout_s)
        if stream and _is_event_stream(response):
            return SSEPassthrough(response, self.context, hide_usage)
        reply = await self._read_json(response)
        if stream:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered a stream request with JSON",
                                       code="upstream_invalid_response")
        return reply

    async def post_json(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> JSONReply:
        """Send one request answered with a JSON body."""
        return await self._read_json(await self._send(path, _encode(body), timeout_s))

    async def _send(self, path: str, content: bytes, timeout_s: float | None = None,
                    content_type: str = "application/json",
                    extra_headers: Mapping[str, str] | None = None) -> FetchedResponse:
        """The upstream response with its headers read, or the mapped error if its status is an error."""
        headers = _JSON if content_type == "application/json" else {"content-type": content_type}
        if extra_headers:
            headers = {**headers, **extra_headers}
        with map_errors(self.context):
            response = await self.upstream.fetch("POST", path, content, headers, timeout_s)
            if response.status_code < 400:
                return response
            content = await _read(response)
        raise self.error_from(response.status_code, response.headers, content)

    async def _read_json(self, response: FetchedResponse) -> JSONReply:
        """Read a complete body and check it is JSON before passing it on."""
        with map_errors(self.context):
            content = await _read(response)
        try:
            return JSONReply(content, read_usage(content))
        except msgspec.DecodeError:
            kind = (response.content_type or "no content type").split(";")[0]
            raise errors.UpstreamError(
                f"provider instance '{self.name}' answered HTTP {response.status_code} with {kind}, not JSON",
                code="upstream_invalid_response") from None

    async def aclose(self) -> None:
        await self.upstream.aclose()


async def _read(response: FetchedResponse) -> bytes:
    try:
        return await response.aread()
    finally:
        await response.aclose()


def _is_event_stream(response: FetchedResponse) -> bool:
    return response.content_type.startswith("text/event-stream")
