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
from core.http import Upstream
from core.model_types import (
    EventStream,
    JSONReply,
    ModelTarget,
    Provider,
    ProviderContext,
    RawBody,
)
from core.openai.chat import ChatCompletionRequest
from core.openai.completions import CompletionRequest
from core.openai.embeddings import EmbeddingRequest
from core.openai.usage import Usage
from core.parameters import resolve_rule
from core.schema import ConfigurateMethod, ModelSchema, ModelType, ParameterRule

from .errors import error_from_response, map_errors
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


def read_usage(content: bytes) -> Usage | None:
    """The usage of a JSON body, or ``None`` when it has none or an odd one; raises ``DecodeError`` if not JSON.

    Only the JSON itself is checked: a body that is an array, or whose usage has ``null`` or fractional counts,
    still goes to the client untouched.
    """
    try:
        usage = _decode_envelope(content).usage
    except msgspec.ValidationError:  # valid so far, but not the usual shape: prove it is JSON at all
        _decode_any(content)
        return None
    if not usage or bytes(usage) == b"null":
        return None
    try:
        return msgspec.json.decode(usage, type=Usage, strict=False)
    except msgspec.ValidationError:
        return None


class _ListedModel(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_ListedModel]


_decode_model_list = msgspec.json.Decoder(_ModelList).decode


class OpenAICompatibleProvider(Provider):
    """Chat, completions and embeddings over ``{base_url}/chat/completions`` and friends."""

    default_base_url: str | None = None

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        base_url = str(context.credentials.get("base_url") or self.default_base_url or "")
        self.upstream = Upstream(base_url.rstrip("/") + "/", self.auth_headers(), timeout_s=context.timeout_s,
                                 connect_timeout_s=context.connect_timeout_s)
        self.client = self.upstream.client

    @classmethod
    def check_credential_values(cls, credentials: Mapping[str, Any]) -> None:
        """``base_url`` must be an http(s) URL and ``api_key`` fit in an HTTP header."""
        base_url = credentials.get("base_url")
        if base_url:
            try:
                url = httpx.URL(str(base_url))
            except (httpx.InvalidURL, ValueError):
                url = None
            if url is None or url.scheme not in ("http", "https") or not url.host:
                raise CredentialValueError("base_url", "must be an http:// or https:// URL")
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
        return self

    def text_embedding(self) -> OpenAICompatibleProvider:
        return self

    async def chat(self, target: ModelTarget, request: ChatCompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST chat/completions``."""
        return await self.post("chat/completions", _with_model(raw, target), bool(request.stream), target.timeout_s)

    async def complete(self, target: ModelTarget, request: CompletionRequest, raw: RawBody) -> JSONReply | EventStream:
        """``POST completions``."""
        return await self.post("completions", _with_model(raw, target), bool(request.stream), target.timeout_s)

    async def embed(self, target: ModelTarget, request: EmbeddingRequest, raw: RawBody) -> JSONReply:
        """``POST embeddings``."""
        return await self.post_json("embeddings", _with_model(raw, target), target.timeout_s)

    async def validate_credentials(self) -> None:
        """List the upstream's models: the cheapest authenticated call the OpenAI API has."""
        await self._validated(self.get_json("models"))

    async def validate_model_credentials(self, target: ModelTarget) -> None:
        """The smallest real call to the model: one generated token, or one embedded word."""
        if target.model_type is ModelType.LLM:
            body: dict[str, Any] = {"model": target.name, "max_tokens": 1,
                                    "messages": [{"role": "user", "content": "ping"}]}
            await self._validated(self.post_json("chat/completions", body))
        elif target.model_type is ModelType.TEXT_EMBEDDING:
            await self._validated(self.post_json("embeddings", {"model": target.name, "input": "ping"}))
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

    async def _validated(self, upstream_call: Awaitable[JSONReply]) -> None:
        try:
            await upstream_call
        except (errors.InvalidRequestError, errors.AuthenticationError, errors.PermissionDeniedError,
                errors.NotFoundError) as exc:
            raise errors.CredentialsValidateFailedError(exc.message) from None

    async def get_json(self, path: str) -> JSONReply:
        """``GET`` a JSON resource."""
        with map_errors(self.context):
            response = await self.upstream.send(self.upstream.request("GET", path))
            if response.status_code < 400:
                return await self._read_json(response)
            content = await _read(response)
        raise error_from_response(self.context, response.status_code, response.headers, content, self.redact)

    async def post(self, path: str, body: dict[str, Any], stream: bool,
                   timeout_s: float | None = None) -> JSONReply | EventStream:
        """Send one request that may stream; errors before the first byte are raised, not streamed."""
        response = await self._send(path, body, timeout_s)
        if stream and _is_event_stream(response):
            return SSEPassthrough(response, self.context)
        reply = await self._read_json(response)
        if stream:
            raise errors.UpstreamError(f"provider instance '{self.name}' answered a stream request with JSON",
                                       code="upstream_invalid_response")
        return reply

    async def post_json(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> JSONReply:
        """Send one request answered with a JSON body."""
        return await self._read_json(await self._send(path, body, timeout_s))

    async def _send(self, path: str, body: dict[str, Any], timeout_s: float | None = None) -> httpx.Response:
        """The upstream response with its headers read, or the mapped error if its status is an error."""
        request = self.upstream.request("POST", path, _encode(body), _JSON, timeout_s)
        with map_errors(self.context):
            response = await self.upstream.send(request)
            if response.status_code < 400:
                return response
            content = await _read(response)
        raise error_from_response(self.context, response.status_code, response.headers, content, self.redact)

    async def _read_json(self, response: httpx.Response) -> JSONReply:
        """Read a complete body and check it is JSON before passing it on."""
        with map_errors(self.context):
            content = await _read(response)
        try:
            return JSONReply(content, read_usage(content))
        except msgspec.DecodeError:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise errors.UpstreamError(
                f"provider instance '{self.name}' answered HTTP {response.status_code} with {kind}, not JSON",
                code="upstream_invalid_response") from None

    async def aclose(self) -> None:
        await self.upstream.aclose()


def _with_model(raw: RawBody, target: ModelTarget) -> dict[str, Any]:
    return {**raw, "model": target.name}


async def _read(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    finally:
        await response.aclose()


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")
