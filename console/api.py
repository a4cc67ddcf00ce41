"""The console's one door to the gateway: every HTTP call it makes, over httpx, with failures translated once.

Nothing above this module sees httpx or msgspec errors: a refused connection is :class:`GatewayDown`, a 401 is
:class:`KeyRejected`, any other error answer is :class:`ApiError` with the gateway's own message, so screens show
a sentence instead of a traceback. Tests pass a ``transport`` (httpx's seam) to reach a gateway on another port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from core.api import ValidationResult
from core.openai.chat import ChatCompletionChunk
from core.openai.embeddings import EmbeddingResponse
from core.openai.errors import ErrorBody
from core.openai.models import Model, ModelList
from core.openai.rerank import RerankResponse
from core.schema import ParameterRule
from core.sse import payloads
from core.usage import UsageReport

from .wire import CallInfo, Health, ModelInfo, Moderation, ProviderView

__all__ = ["ApiError", "ChatStream", "ConsoleError", "Gateway", "GatewayDown", "KeyRejected"]

T = TypeVar("T")


class ConsoleError(Exception):
    """A failure the console shows as a message: ``message`` is written for the person at the terminal."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GatewayDown(ConsoleError):
    """No answer: nothing listens at the URL, or the connection broke."""


class KeyRejected(ConsoleError):
    """The gateway refused the API key (401)."""


class ApiError(ConsoleError):
    """The gateway answered with an error (or with something that is not its JSON)."""

    def __init__(self, message: str, status: int = 0, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


class _Listed(msgspec.Struct, kw_only=True):
    data: list[Any]


class _Version(msgspec.Struct):
    info: dict[str, Any]


class _Deployment(msgspec.Struct):
    target: str


class _Route(msgspec.Struct):
    model: str
    deployments: list[_Deployment]


class _Instance(msgspec.Struct):
    provider: str
    name: str | None = None


class _Targets(msgspec.Struct):
    """What of the profile says where a model name goes."""

    providers: list[_Instance] = []
    routes: list[_Route] = []


class Gateway:
    """A running gateway at ``url``, called with ``api_key``; one pooled client for the console's lifetime."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout_s: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/").removesuffix("/v1")
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, transport=transport,
                                         timeout=httpx.Timeout(timeout_s, connect=5.0))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- the gateway itself -----------------------------------------------------------------------------------

    async def health(self) -> Health:
        """``/health/ready`` (needs no key; a draining gateway answers 503 with the same body)."""
        with self._translated():
            response = await self._fetch("/health/ready")
            if response.status_code not in (200, 503):
                await self._check(response)
            return msgspec.json.decode(response.content, type=Health)

    async def version(self) -> str:
        """The gateway's version, from its OpenAPI document."""
        document = await self._get("/schema/openapi.json", _Version)
        return str(document.info.get("version", "?"))

    async def profile(self) -> dict[str, Any]:
        """``GET /v1/profile``: the effective profile, secrets masked by the server."""
        return await self._get("/v1/profile", dict[str, Any])

    async def usage(self) -> UsageReport:
        """``GET /v1/usage``: requests, tokens and cost per key, model and deployment (admin keys only)."""
        return await self._get("/v1/usage", UsageReport)

    # --- the catalogue ----------------------------------------------------------------------------------------

    async def providers(self) -> list[ProviderView]:
        """Every provider plug-in, with its forms and its instances here."""
        listed = await self._get("/v1/providers", _Listed)
        with self._translated():
            return [ProviderView.decode(data) for data in listed.data]

    async def provider(self, provider: str) -> ProviderView:
        """One provider with its predefined models."""
        data = await self._get(f"/v1/providers/{provider}", dict[str, Any])
        with self._translated():
            return ProviderView.decode(data)

    async def provider_models(self, provider: str, *, instance: str | None = None,
                              model_type: str | None = None) -> list[ModelInfo]:
        """Predefined models of ``provider``; with ``instance``, the models that instance serves."""
        params = {k: v for k, v in (("instance", instance), ("model_type", model_type)) if v is not None}
        listed = await self._get(f"/v1/providers/{provider}/models", _Listed, params=params)
        return msgspec.convert(listed.data, list[ModelInfo])

    async def validate(self, provider: str, credentials: dict[str, Any], *,
                       instance: str | None = None) -> ValidationResult:
        """Check credentials (or, with ``instance`` and none given, that instance's configured ones)."""
        body: dict[str, Any] = {"credentials": credentials}
        if instance is not None:
            body["instance"] = instance
        return await self._post(f"/v1/providers/{provider}/credentials/validate", body, ValidationResult)

    async def validate_model(self, provider: str, model: str, model_type: str, credentials: dict[str, Any],
                             provider_credentials: dict[str, Any]) -> ValidationResult:
        """Check a customizable model's credentials with the provider credentials given."""
        body = {"model": model, "model_type": model_type, "credentials": credentials,
                "provider_credentials": provider_credentials}
        return await self._post(f"/v1/providers/{provider}/models/credentials/validate", body, ValidationResult)

    # --- models ------------------------------------------------------------------------------------------------

    async def model_ids(self) -> list[str]:
        """The model names ``GET /v1/models`` lists (also the cheapest call that proves the key)."""
        listed = await self._get("/v1/models", ModelList)
        return [m.id for m in listed.data]

    async def models(self) -> list[Model]:
        """Every model name callable here, each with what ``GET /v1/models/{id}`` adds (type, price, voices)."""
        ids = await self.model_ids()
        return list(await asyncio.gather(*(self._get(f"/v1/models/{quote(i, safe='/')}", Model) for i in ids)))

    async def parameter_rules(self, model_id: str) -> list[ParameterRule]:
        """The parameter rules of ``model_id``; for a route alias, those of its first deployment."""
        profile = await self._get("/v1/profile", _Targets)
        routes = {r.model: r.deployments[0].target for r in profile.routes if r.deployments}
        instance, _, name = routes.get(model_id, model_id).partition("/")
        plugins = {p.name or p.provider: p.provider for p in profile.providers}
        if not name or instance not in plugins:
            return []
        found = await self.provider_models(plugins[instance], instance=instance)
        return next((m.parameter_rules for m in found if m.model == name), [])

    # --- the playground --------------------------------------------------------------------------------------

    @asynccontextmanager
    async def chat(self, body: dict[str, Any]) -> AsyncIterator[ChatStream]:
        """A streamed chat completion; leaving the block early closes the stream (the gateway then cancels the
        upstream call)."""
        started = time.perf_counter()
        with self._translated():
            async with self._client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as reply:
                await self._check(reply)
                yield ChatStream(reply, started)

    async def embeddings(self, model: str, texts: list[str]) -> tuple[EmbeddingResponse, CallInfo]:
        """One vector per text."""
        return await self._post_timed("/v1/embeddings", {"model": model, "input": texts}, EmbeddingResponse)

    async def rerank(self, model: str, query: str, documents: list[str],
                     top_n: int | None = None) -> tuple[RerankResponse, CallInfo]:
        """The documents ranked best first."""
        body: dict[str, Any] = {"model": model, "query": query, "documents": documents}
        if top_n is not None:
            body["top_n"] = top_n
        return await self._post_timed("/v1/rerank", body, RerankResponse)

    async def moderate(self, text: str, model: str | None = None) -> tuple[Moderation, CallInfo]:
        """The verdict on ``text`` (the gateway's default moderation model when ``model`` is None)."""
        body = {"input": text} if model is None else {"input": text, "model": model}
        return await self._post_timed("/v1/moderations", body, Moderation)

    async def speech(self, model: str, text: str, voice: str, audio_format: str) -> tuple[bytes, CallInfo]:
        """The audio of ``text`` spoken by ``voice``, as ``audio_format`` (``wav``, ``mp3``, ...)."""
        body = {"model": model, "input": text, "voice": voice, "response_format": audio_format}
        started = time.perf_counter()
        with self._translated():
            response = await self._client.post("/v1/audio/speech", json=body)
            await self._check(response)
        return response.content, _call_info(response, started)

    async def transcribe(self, model: str, path: Path) -> tuple[str, CallInfo]:
        """The text of the audio file at ``path``."""
        try:
            audio = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise ConsoleError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        started = time.perf_counter()
        with self._translated():
            response = await self._client.post("/v1/audio/transcriptions", data={"model": model,
                                                                                 "response_format": "text"},
                                               files={"file": (path.name, audio)})
            await self._check(response)
        return response.text.strip(), _call_info(response, started)

    # --- plumbing -------------------------------------------------------------------------------------------

    async def _get(self, path: str, type_: type[T], params: dict[str, str] | None = None) -> T:
        with self._translated():
            response = await self._fetch(path, params)
            await self._check(response)
            return msgspec.json.decode(response.content, type=type_)

    async def _fetch(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        """``GET``, once more if the connection broke under it: a pooled connection the gateway closed (its
        keep-alive timeout) just as it was reused breaks as a protocol error, a reset or a broken pipe, and a GET
        changes nothing on the gateway."""
        try:
            return await self._client.get(path, params=params)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            return await self._client.get(path, params=params)

    async def _post(self, path: str, body: dict[str, Any], type_: type[T]) -> T:
        result, _ = await self._post_timed(path, body, type_)
        return result

    async def _post_timed(self, path: str, body: dict[str, Any], type_: type[T]) -> tuple[T, CallInfo]:
        started = time.perf_counter()
        with self._translated():
            response = await self._client.post(path, json=body)
            await self._check(response)
            return msgspec.json.decode(response.content, type=type_), _call_info(response, started)

    async def _check(self, response: httpx.Response) -> None:
        """Raise the console's error for an error answer."""
        if response.status_code < 400:
            return
        await response.aread()
        try:
            detail = msgspec.json.decode(response.content, type=ErrorBody).error
        except msgspec.MsgspecError:
            raise ApiError(f"{self.url} answered {response.status_code}: {response.text[:200]}",
                           response.status_code) from None
        if response.status_code == 401:
            raise KeyRejected(f"The gateway at {self.url} refused the API key: {detail.message} Start the console "
                              "with --api-key KEY (or set MODEL_RUNTIME_API_KEY).")
        raise ApiError(detail.message, response.status_code, detail.code, detail.param)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """httpx and decoding failures as :class:`ConsoleError`s that say what to do."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise GatewayDown(f"Cannot reach the gateway at {self.url} ({exc}). Is `model-runtime serve` running "
                              "there? Check --url.") from exc
        except httpx.TimeoutException as exc:
            raise GatewayDown(f"The gateway at {self.url} did not answer in time.") from exc
        except httpx.HTTPError as exc:
            raise GatewayDown(f"The connection to {self.url} failed: {exc}") from exc
        except msgspec.MsgspecError as exc:
            raise ApiError(f"Unexpected answer from {self.url} ({exc}). Is it a Model Runtime gateway?") from exc


class ChatStream:
    """The chunks of a streamed chat completion as they arrive, and who answered."""

    def __init__(self, response: httpx.Response, started: float) -> None:
        self._response = response
        self.info = _call_info(response, started)

    async def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        async for batch in payloads(self._response.aiter_bytes()):
            for payload in batch:
                if payload.strip() == b"[DONE]":
                    return
                event = msgspec.json.decode(payload)
                if isinstance(event, dict) and "error" in event:  # a failure after the stream began
                    detail = msgspec.convert(event, ErrorBody).error
                    raise ApiError(detail.message, self._response.status_code, detail.code, detail.param)
                yield msgspec.convert(event, ChatCompletionChunk)


def _call_info(response: httpx.Response, started: float) -> CallInfo:
    headers = response.headers
    return CallInfo(deployment=headers.get("x-model-runtime-deployment"), cost=headers.get("x-model-runtime-cost"),
                    currency=headers.get("x-model-runtime-cost-currency"), elapsed_s=time.perf_counter() - started)
