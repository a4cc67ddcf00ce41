"""A faithful fake of Xinference's REST API for launched models, for tests: `FakeXinference`.

Xinference (xorbitsai/inference, `xinference/api/restful_api.py`) is a FastAPI app; every model is addressed by
its *model uid*. The fake serves a fixed set of launched models (uid → model type, optionally with abilities):

* `GET /v1/cluster/auth` → `{"auth": <api_key is set>}` (never needs a key; the official client asks it first
  and only sends `Authorization` when it says true).
* `GET /v1/models` → `{"object": "list", "data": [{"id": uid, "object": "model", "created": 0,
  "owned_by": "xinference", **description}]}`; `GET /v1/models/{uid}` → the description (`model_type`,
  `model_name`, `model_ability` for LLM and audio models, ..., `replica`). Unknown uid → 400
  `{"detail": "Model not found in the model list, uid: <uid>"}`.
* `POST /v1/chat/completions` (LLM with the `chat` ability), `POST /v1/embeddings` (embedding): OpenAI shapes
  from `openai_wire`, without OpenAI-only fields (`service_tier`, `system_fingerprint`, `refusal`, token
  details); embeddings add `model_replica`. Streaming chat is SSE framed as sse-starlette does
  (`data: <json>\\r\\n\\r\\n`, then `data: [DONE]`). Xinference ignores `n`: one choice.
* `POST /v1/rerank` `{model, query, documents, top_n, return_documents, return_len, max_chunks_per_doc, kwargs}`
  → `{"id", "results": [{"index", "relevance_score", "document": {"text"} | null}], "meta": {"api_version":
  null, "billed_units": null, "tokens": {"input_tokens", "output_tokens"} | null, "warnings": null}}`, sorted
  by score, cut to `top_n`; `document` only with `return_documents`, `tokens` only with `return_len`;
  `max_chunks_per_doc` set → 500 (Xinference's rerankers do not support it).
* `POST /v1/audio/transcriptions` (multipart: `model`, `file`, `language`, `prompt`, `response_format`,
  `temperature`, `kwargs`) → `{"text": ...}` (`verbose_json` adds segments). A WAV made by this fake's speech
  route transcribes back to the text it was made from.
* `POST /v1/audio/speech` (JSON, or multipart when a `prompt_speech` file is sent) `{model, input, voice,
  response_format, speed, stream}` → `application/octet-stream` audio sent in chunks: `wav` is a real WAV
  (stdlib `wave`, 24 kHz mono 16-bit), `pcm` its raw frames, `mp3` silent MPEG-1 Layer III frames.

Errors are FastAPI's `{"detail": ...}`: a uid that is not launched → 404 `Model not found in the model list,
uid: <uid>` (asked again within 10 s → the negative-cache wording `... (cached, retry after 10.0s)`); a model
used on the wrong route → 500 `[address=..., pid=...] Model <spec> is not for reranking.` (chat streams carry it
as an SSE `data: {"error": ...}` event after a 200, as Xinference does); an unreadable or invalid body → 500
`text/plain` `Internal Server Error: ...` (Xinference validates inside its handlers). Auth is optional: with an
`api_key`, a missing bearer token → 401 `Not authenticated`, a wrong one → 401 `Could not validate
credentials`.

Faults are chosen by the request's `model` (see `upstream_kit`): `fault-status-<code>` (Xinference's body for
it: 429 is its request-limit error, 503 its loading error with `Retry-After: 30`), `fault-stall-<seconds>`,
`fault-garbage`. A fault model behaves like a launched model of the type the route needs.
"""

from __future__ import annotations

import io
import json
import math
import struct
import time
import uuid
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.fakes import openai_wire as wire
from tests.fakes.relevance import relevance, word_count
from tests.fakes.upstream_kit import (
    JSON,
    Exchange,
    FakeUpstream,
    Fault,
    HTTPError,
    MultipartError,
    Request,
    parse_multipart,
    sse,
)

__all__ = ["DEFAULT_MODELS", "FakeXinference", "ModelSpec"]

ModelSpec = str | tuple[str, Sequence[str]]
"""A launched model: its `model_type`, or `(model_type, model_ability)`."""

DEFAULT_MODELS: dict[str, ModelSpec] = {
    "qwen-chat": "LLM",
    "bge-m3": "embedding",
    "bge-reranker-v2-m3": "rerank",
    "whisper-small": "audio",
    "ChatTTS": ("audio", ("text2audio",)),
}
_DEFAULT_ABILITIES: dict[str, tuple[str, ...]] = {
    "LLM": ("generate", "chat"),
    "audio": ("audio2text",),
}
_TYPES = ("LLM", "embedding", "rerank", "audio")
ACTOR_ADDRESS = "0.0.0.0:41213"
ACTOR_PID = 41792
NEGATIVE_CACHE_TTL = 10.0
SAMPLE_RATE = 24000
_SSE_SEP = b"\r\n\r\n"
_DONE = b"data: [DONE]" + _SSE_SEP
_AUDIO_CHUNK = 4096
_OPENAI_ONLY = frozenset(
    {"service_tier", "system_fingerprint", "refusal", "annotations", "prompt_tokens_details",
     "completion_tokens_details"}
)
_ROUTES: dict[str, str] = {
    "/v1/cluster/auth": "GET",
    "/v1/models": "GET",
    "/v1/chat/completions": "POST",
    "/v1/embeddings": "POST",
    "/v1/rerank": "POST",
    "/v1/audio/transcriptions": "POST",
    "/v1/audio/speech": "POST",
}
# The ModelActor method each route calls, and the word Xinference's AttributeError uses for it.
_NEEDS: dict[str, tuple[str, str | None, str]] = {
    "/v1/chat/completions": ("LLM", "chat", "chat"),
    "/v1/embeddings": ("embedding", None, "creating embedding"),
    "/v1/rerank": ("rerank", None, "reranking"),
    "/v1/audio/transcriptions": ("audio", "audio2text", "creating transcriptions"),
    "/v1/audio/speech": ("audio", "text2audio", "creating speech"),
}


@dataclass(frozen=True)
class _Model:
    uid: str
    model_type: str
    abilities: tuple[str, ...]

    def can(self, model_type: str, ability: str | None) -> bool:
        return self.model_type == model_type and (ability is None or ability in self.abilities)

    def spec(self) -> str:
        """What `str(model_spec)` of a pydantic model spec looks like in Xinference's AttributeErrors."""
        return f"version=2 model_name='{self.uid}' model_type='{self.model_type}' model_hub='huggingface'"

    def description(self) -> JSON:
        base: JSON = {"model_type": self.model_type, "address": ACTOR_ADDRESS, "accelerators": ["0"]}
        if self.model_type == "LLM":
            base |= {
                "model_name": self.uid,
                "model_lang": ["en", "zh"],
                "model_ability": list(self.abilities),
                "model_description": f"{self.uid}, served by a fake Xinference",
                "model_format": "pytorch",
                "model_size_in_billions": 7,
                "model_family": self.uid,
                "quantization": "none",
                "multimodal_projector": None,
                "model_hub": "huggingface",
                "revision": None,
                "context_length": 32768,
            }
        elif self.model_type == "embedding":
            base |= {
                "model_name": self.uid,
                "dimensions": wire.DEFAULT_EMBEDDING_DIMS,
                "max_tokens": 8192,
                "language": ["en", "zh"],
                "model_revision": None,
            }
        elif self.model_type == "rerank":
            base |= {"type": "normal", "model_name": self.uid, "language": ["en", "zh"], "model_revision": None}
        else:
            base |= {
                "model_name": self.uid,
                "model_family": self.uid,
                "model_revision": None,
                "model_ability": list(self.abilities),
            }
        return base | {"replica": 1}


def _launched(models: Mapping[str, ModelSpec]) -> dict[str, _Model]:
    launched: dict[str, _Model] = {}
    for uid, spec in models.items():
        model_type, abilities = (spec, _DEFAULT_ABILITIES.get(spec, ())) if isinstance(spec, str) else spec
        if model_type not in _TYPES:
            raise ValueError(f"unsupported model type {model_type!r} for {uid!r}; expected one of {_TYPES}")
        launched[uid] = _Model(uid, model_type, tuple(abilities))
    return launched


# --- Xinference's errors ------------------------------------------------------------------------


def _detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> HTTPError:
    return HTTPError.json(status, {"detail": detail}, headers)


def _remote_message(message: str) -> str:
    """An exception raised inside a model actor, as it reaches the REST layer (xoscar prefixes the actor)."""
    return f"[address={ACTOR_ADDRESS}, pid={ACTOR_PID}] {message}"


def _remote(message: str) -> HTTPError:
    return _detail(500, _remote_message(message))


def _internal(message: str) -> HTTPError:
    """An exception the handler did not catch: Xinference's 500 handler answers it as plain text."""
    return HTTPError.text(500, f"Internal Server Error: {message}")


def _validation(schema: str, errors: Sequence[tuple[str, str]]) -> HTTPError:
    """`str()` of a pydantic v1 ValidationError raised by `<Schema>.parse_obj` inside a handler, as a plain 500."""
    count = len(errors)
    lines = [f"{count} validation error{'s' if count > 1 else ''} for {schema}"]
    for location, message in errors:
        lines += [location, f"  {message}"]
    return _internal("\n".join(lines))


def _parse_obj(schema: str, body: Any, required: Sequence[str]) -> JSON:
    """`<Schema>.parse_obj(body)` for the required fields: a dict in which each is present and not null."""
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise _validation(schema, [("__root__", f"{schema} expected dict not {kind} (type=type_error)")])
    errors = [
        (name, "field required (type=value_error.missing)" if name not in body
         else "none is not an allowed value (type=type_error.none.not_allowed)")
        for name in required
        if body.get(name) is None
    ]
    if errors:
        raise _validation(schema, errors)
    return body


def _form_missing(names: Sequence[str]) -> HTTPError:
    """FastAPI's own 422 for missing `Form(...)`/`File(...)` parameters."""
    return _detail(422, [{"type": "missing", "loc": ["body", n], "msg": "Field required", "input": None}
                         for n in names])


def _fault_status(status: int, model: str) -> HTTPError:
    if status == 400:
        return _detail(400, "Invalid input. Please specify the prompt.")
    if status == 401:
        return _detail(401, "Could not validate credentials", {"www-authenticate": "Bearer"})
    if status == 403:
        return _detail(403, "Not enough permissions", {"www-authenticate": "Bearer"})
    if status == 404:
        return _detail(404, f"Model not found in the model list, uid: {model}")
    if status == 429:
        return _detail(429, f"Rate limit reached for the model. Request limit 1 for the model: {model}")
    if status == 500:
        return _remote(f"Remote server {ACTOR_ADDRESS} closed")
    if status == 503:
        message = f"Model is loading, please retry later: Model {model} is not ready yet"
        return _detail(503, message, {"retry-after": "30"})
    return _detail(status, f"Injected fault: HTTP {status}")


# --- the fake -----------------------------------------------------------------------------------


class FakeXinference(FakeUpstream):
    """The fake Xinference server; also usable as `with FakeXinference() as fake:`."""

    server_name = "fake-xinference"

    def __init__(self, api_key: str | None = None, *, models: Mapping[str, ModelSpec] | None = None) -> None:
        super().__init__(api_key)
        self.models = _launched(DEFAULT_MODELS if models is None else models)
        self._not_found: dict[str, float] = {}

    def reset(self) -> None:
        self._not_found.clear()

    async def handle(self, request: Request, ex: Exchange) -> None:
        path, method = request.path, request.method
        allowed = _ROUTES.get(path)
        if allowed is None and path.startswith("/v1/models/") and "/" not in path.removeprefix("/v1/models/"):
            allowed = "GET"
        if allowed is None:
            raise _detail(404, "Not Found")
        if method != allowed:
            raise _detail(405, "Method Not Allowed", {"allow": allowed})
        if path == "/v1/cluster/auth":
            await ex.json(200, {"auth": self.api_key is not None})
            return
        self._authenticate(request, "models:list" if path == "/v1/models" else "models:read")
        if path == "/v1/models":
            data = [{"id": m.uid, "object": "model", "created": 0, "owned_by": "xinference", **m.description()}
                    for m in self.models.values()]
            await ex.json(200, {"object": "list", "data": data})
        elif path.startswith("/v1/models/"):
            uid = path.removeprefix("/v1/models/")
            if uid not in self.models:
                raise _detail(400, f"Model not found in the model list, uid: {uid}")
            await ex.json(200, self.models[uid].description())
        elif path == "/v1/audio/transcriptions":
            await self._transcriptions(request, ex)
        elif path == "/v1/audio/speech":
            await self._speech(request, ex)
        else:
            await self._json_route(request, ex)

    def _authenticate(self, request: Request, scope: str) -> None:
        if self.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _detail(401, "Not authenticated", {"www-authenticate": "Bearer"})
        if token.strip() != self.api_key:
            raise _detail(401, "Could not validate credentials", {"www-authenticate": f'Bearer scope="{scope}"'})

    # --- model lookup ---------------------------------------------------------------------------

    def _require(self, uid: str) -> _Model:
        """`require_model`: the launched model, or Xinference's 404 (with its 10 s negative cache)."""
        model = self.models.get(uid)
        if model is not None:
            return model
        now = time.monotonic()
        expiry = self._not_found.get(uid)
        if expiry is not None and now <= expiry:
            message = f"Model not found in the model list, uid: {uid} (cached, retry after {NEGATIVE_CACHE_TTL}s)"
            raise _detail(404, message)
        self._not_found[uid] = now + NEGATIVE_CACHE_TTL
        raise _detail(404, f"Model not found in the model list, uid: {uid}")

    async def _resolve(self, ex: Exchange, path: str, uid: str, fault: Fault | None) -> _Model | None:
        """The model to serve with (None: the response was already sent or the client left)."""
        model_type, ability, _ = _NEEDS[path]
        if fault is None:
            return self._require(uid)
        if fault.kind == "status":
            raise _fault_status(fault.status, uid)
        if fault.kind == "garbage":
            await ex.garbage()
            return None
        if not await self.stall(ex, fault.value):
            return None
        return _Model(uid, model_type, (ability,) if ability else ())

    @staticmethod
    def _check_ability(model: _Model, path: str) -> None:
        message = _wrong_route(model, path)
        if message is not None:
            raise _remote(message)

    # --- JSON routes ----------------------------------------------------------------------------

    async def _json_route(self, request: Request, ex: Exchange) -> None:
        path = request.path
        schema, required = {
            "/v1/chat/completions": ("CreateChatCompletion", ("model", "messages")),
            "/v1/embeddings": ("CreateEmbeddingRequest", ("model", "input")),
            "/v1/rerank": ("RerankRequest", ("model", "query", "documents")),
        }[path]
        body = _parse_obj(schema, _decode(request.body), required)
        uid = str(body["model"])
        if path == "/v1/chat/completions":
            messages = body["messages"]
            if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict) or \
                    messages[-1].get("role") not in ("user", "system", "tool"):
                raise _detail(400, "Invalid input. Please specify the prompt.")
        elif path == "/v1/rerank" and not isinstance(body["documents"], list):
            raise _internal("1 validation error for RerankRequest\ndocuments\n  value is not a valid list "
                            "(type=type_error.list)")
        model = await self._resolve(ex, path, uid, self.fault_for(uid))
        if model is None:
            return
        if path == "/v1/chat/completions":
            await self._chat(ex, model, body)
            return
        self._check_ability(model, path)
        if path == "/v1/embeddings":
            await ex.json(200, self._embeddings(model, body))
        else:
            await ex.json(200, _rerank(body))

    async def _chat(self, ex: Exchange, model: _Model, body: JSON) -> None:
        stream = body.get("stream") is True
        options = body.get("stream_options")
        with_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        wrong = _wrong_route(model, "/v1/chat/completions")
        if wrong is not None and stream:  # the stream has started (200) before the model actor fails
            event = sse({"error": _remote_message(wrong)}, _SSE_SEP)
            await self.stream(ex, "text/event-stream; charset=utf-8", [event], headers=_SSE_HEADERS)
            return
        if wrong is not None:
            raise _remote(wrong)
        try:
            reply, prompt_tokens, _ = wire.plan_chat(body | {"n": None})
        except wire.APIError as err:
            raise _remote(str(err)) from None
        meta = wire.Meta("chatcmpl-" + uuid.uuid4().hex, int(time.time()), model.uid)
        if stream:
            chunks = [sse(_strip(c), _SSE_SEP) for c in wire.chat_chunks(meta, reply, prompt_tokens, 1, with_usage)]
            await self.stream(ex, "text/event-stream; charset=utf-8", [*chunks, _DONE], headers=_SSE_HEADERS)
        else:
            await ex.json(200, _strip(wire.chat_completion(meta, reply, prompt_tokens, 1)))

    @staticmethod
    def _embeddings(model: _Model, body: JSON) -> JSON:
        try:
            result = wire.embeddings(body | {"model": model.uid})
        except wire.APIError as err:
            raise _remote(str(err)) from None
        return {"object": "list", "model": model.uid, "model_replica": f"{model.uid}-0",
                "data": result["data"], "usage": result["usage"]}

    # --- audio ----------------------------------------------------------------------------------

    async def _transcriptions(self, request: Request, ex: Exchange) -> None:
        form = _form(request)
        missing = [name for name in ("model", "file") if name not in form]
        if missing:
            raise _form_missing(missing)
        uid = form["model"].text
        model = await self._resolve(ex, request.path, uid, self.fault_for(uid))
        if model is None:
            return
        self._check_ability(model, request.path)
        response_format = form["response_format"].text if "response_format" in form else "json"
        text, duration = transcribe(form["file"].data)
        if response_format == "json":
            await ex.json(200, {"text": text})
        elif response_format == "verbose_json":
            language = form["language"].text if "language" in form else "english"
            temperature = float(form["temperature"].text) if "temperature" in form else 0.0
            segment = {"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text, "tokens": [],
                       "temperature": temperature, "avg_logprob": -0.1, "compression_ratio": 1.0,
                       "no_speech_prob": 0.0}
            await ex.json(200, {"task": "transcribe", "language": language, "duration": duration, "text": text,
                                "segments": [segment]})
        else:
            raise _remote(f"Unsupported response format: {response_format}")

    async def _speech(self, request: Request, ex: Exchange) -> None:
        if request.media_type == "multipart/form-data":
            raw: Any = {name: part.text for name, part in _form(request).items() if part.filename is None}
        else:
            raw = _decode(request.body)
        body = _parse_obj("SpeechRequest", raw, ("model", "input"))
        uid = str(body["model"])
        model = await self._resolve(ex, request.path, uid, self.fault_for(uid))
        if model is None:
            return
        self._check_ability(model, request.path)
        response_format = str(body.get("response_format") or "mp3")
        speed = _number(body.get("speed"), 1.0)
        audio = synthesize(str(body["input"]), response_format, speed)
        chunks = [audio[i : i + _AUDIO_CHUNK] for i in range(0, len(audio), _AUDIO_CHUNK)]
        stream = str(body.get("stream", False)).lower() in ("true", "1")
        await self.stream(ex, "application/octet-stream", chunks, length=None if stream else len(audio))


_SSE_HEADERS = {"cache-control": "no-store", "connection": "keep-alive", "x-accel-buffering": "no"}


def _wrong_route(model: _Model, path: str) -> str | None:
    """The AttributeError message of the model actor when `model` cannot serve `path`, else None."""
    model_type, ability, word = _NEEDS[path]
    return None if model.can(model_type, ability) else f"Model {model.spec()} is not for {word}."


def _strip(value: Any) -> Any:
    """An OpenAI wire object without the fields only OpenAI sends."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _OPENAI_ONLY}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _decode(raw: bytes) -> Any:
    """`await request.json()` as Starlette does it (stdlib json): a failure becomes Xinference's plain 500."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _internal(str(err)) from None


def _form(request: Request) -> dict[str, Any]:
    try:
        parts = parse_multipart(request.content_type, request.body)
    except MultipartError:
        return {}
    return {part.name: part for part in parts}


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


# --- rerank -------------------------------------------------------------------------------------


def _document_text(document: Any) -> str:
    if isinstance(document, dict):
        return str(document.get("text", ""))
    return str(document)


def _rerank(body: JSON) -> JSON:
    if body.get("max_chunks_per_doc") is not None:
        raise _remote("rerank hasn't support `max_chunks_per_doc` parameter.")
    query = _document_text(body["query"])
    documents = [_document_text(d) for d in body["documents"]]
    scores = [relevance(query, d) for d in documents]
    # Xinference takes reversed(np.argsort(scores)): best first, equal scores latest index first.
    order = sorted(range(len(documents)), key=lambda i: (scores[i], i), reverse=True)
    top_n = body.get("top_n")
    if isinstance(top_n, int) and not isinstance(top_n, bool):
        order = order[:top_n]
    with_documents = bool(body.get("return_documents"))
    results = [
        {"index": i, "relevance_score": scores[i], "document": {"text": documents[i]} if with_documents else None}
        for i in order
    ]
    tokens = sum(word_count(query) + word_count(d) for d in documents)
    meta = {
        "api_version": None,
        "billed_units": None,
        "tokens": {"input_tokens": tokens, "output_tokens": tokens} if body.get("return_len") else None,
        "warnings": None,
    }
    return {"id": str(uuid.uuid1()), "results": results, "meta": meta}


# --- audio: a WAV that carries its text, and its transcription ------------------------------------

_MAGIC = (0x4641, 0x4B45)  # "FA", "KE": the fake's speech marks its WAVs so transcription can read them back
_SECONDS_PER_WORD = 0.25
_MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0xC0]) + bytes(413)  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono: silence
_MP3_FRAME_SECONDS = 1152 / 44100


def _samples(text: str, speed: float) -> list[int]:
    data = text.encode()
    header = [*_MAGIC, len(data) & 0x7FFF, len(data) >> 15, *data]
    seconds = _SECONDS_PER_WORD * max(1, word_count(text)) / max(speed, 0.25)
    tone = [int(3000 * math.sin(2 * math.pi * 220 * i / SAMPLE_RATE)) for i in range(int(SAMPLE_RATE * seconds))]
    return header + tone


def synthesize(text: str, response_format: str, speed: float = 1.0) -> bytes:
    """Speech for `text`: a real WAV, its raw 16-bit PCM frames, or silent MP3 frames of the same length."""
    samples = _samples(text, speed)
    frames = struct.pack(f"<{len(samples)}h", *samples)
    if response_format == "pcm":
        return frames
    if response_format == "mp3":
        return _MP3_FRAME * max(1, math.ceil(len(samples) / SAMPLE_RATE / _MP3_FRAME_SECONDS))
    if response_format != "wav":
        raise _remote(f"Unsupported audio format: {response_format}")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(frames)
    return buffer.getvalue()


def transcribe(audio: bytes) -> tuple[str, float]:
    """(text, duration in seconds): the text a fake-made WAV carries, else a description of the audio."""
    try:
        with wave.open(io.BytesIO(audio), "rb") as source:
            width, channels, rate = source.getsampwidth(), source.getnchannels(), source.getframerate()
            count = source.getnframes()
            frames = source.readframes(count)
    except (wave.Error, EOFError, struct.error):
        return f"[unrecognized audio: {len(audio)} bytes]", 0.0
    duration = round(count / rate, 3) if rate else 0.0
    if width == 2 and channels == 1 and len(frames) >= 8:
        samples = struct.unpack(f"<{len(frames) // 2}h", frames[: len(frames) // 2 * 2])
        if tuple(samples[:2]) == _MAGIC:
            length = samples[2] | samples[3] << 15
            data = bytes(s & 0xFF for s in samples[4 : 4 + length])
            return data.decode("utf-8", errors="replace"), duration
    return f"[speech: {duration}s]", duration
