"""``/v1/audio/transcriptions``, ``/v1/audio/translations`` (multipart uploads) and ``/v1/audio/speech``
(audio streamed back as the upstream sends it)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException
from litestar.params import FromPath
from litestar.response import Stream

from core.errors import InvalidRequestError, PayloadTooLargeError
from core.model_types import AudioFile, AudioStream, JSONReply, ModelTarget, Provider, RawBody
from core.openai.audio import SPEECH_FORMATS, TRANSCRIPTION_FORMATS, SpeechRequest, TranscriptionParams
from core.schema import ModelType

from ..decode import decode_body, describe_validation_error
from ._reply import Exchange, Req, runtime, serve, to_response

__all__ = ["AUDIO_EXTENSIONS", "seed_speech", "seed_transcriptions", "seed_translations", "speech",
           "transcriptions", "translations"]

AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
"""The file types OpenAI's speech-to-text accepts, judged by the file name as OpenAI judges them."""


async def read_upload(request: Req, limit: int) -> tuple[TranscriptionParams, dict[str, Any], AudioFile]:
    """The typed fields, the raw fields (unknown ones kept for OpenAI-compatible upstreams) and the file."""
    media_type, _ = request.content_type
    if media_type != "multipart/form-data":
        raise InvalidRequestError("Send the audio as multipart/form-data with the file in the 'file' field "
                                  f"(got Content-Type {media_type or 'none'}).", code="invalid_content_type")
    try:
        form = await request.form()
    except ClientException as exc:
        if exc.status_code == 413:
            limit = runtime(request).loaded.profile.server.max_body_bytes
            raise PayloadTooLargeError(f"The request body is larger than this gateway accepts ({limit} bytes, "
                                       "server.max_body_bytes in the profile).") from None
        raise InvalidRequestError(f"The multipart body could not be read: {exc.detail}.",
                                  code="invalid_multipart") from None
    except UnicodeDecodeError:
        raise InvalidRequestError("A multipart field other than 'file' is not valid UTF-8.",
                                  code="invalid_multipart") from None
    fields: dict[str, Any] = {}
    upload: UploadFile | None = None
    for key, value in form.multi_items():
        if key == "file":
            if not isinstance(value, UploadFile):
                raise InvalidRequestError("'file' must be a file upload, not a text field.", param="file",
                                          code="invalid_value")
            upload = value
        elif isinstance(value, str):
            if key.endswith("[]"):
                fields.setdefault(key[:-2], []).append(value)
            else:
                fields[key] = value
    if upload is None:
        raise InvalidRequestError("Missing required parameter: 'file'.", param="file",
                                  code="missing_required_parameter")
    try:
        params = msgspec.convert(fields, TranscriptionParams, strict=False)
    except msgspec.ValidationError as exc:
        raise describe_validation_error(exc) from None
    audio = await _read_file(upload, limit)
    raw = {**fields, **msgspec.to_builtins(params)}  # typed values where known: rules and overrides see numbers
    return params, raw, audio


async def _read_file(upload: UploadFile, limit: int) -> AudioFile:
    filename = upload.filename or ""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in AUDIO_EXTENSIONS:
        raise InvalidRequestError(f"Invalid file format '{extension or filename or 'unnamed'}'. Supported formats: "
                                  f"{', '.join(AUDIO_EXTENSIONS)}.", param="file", code="invalid_file_format")
    try:
        content = await upload.read()
    finally:
        await upload.close()
    if len(content) > limit:
        raise PayloadTooLargeError(f"The audio file is {len(content)} bytes; this gateway accepts files up to "
                                   f"{limit} bytes (server.max_audio_bytes in the profile).", param="file")
    if not content:
        raise InvalidRequestError("The audio file is empty.", param="file", code="empty_file")
    return AudioFile(filename, content, upload.content_type or "application/octet-stream")


async def _transcribe(request: Req, provider: str | None, translate: bool) -> Response[bytes] | Stream:
    params, raw, audio = await read_upload(request, runtime(request).loaded.profile.server.max_audio_bytes)
    if params.response_format is not None and params.response_format not in TRANSCRIPTION_FORMATS:
        raise InvalidRequestError(f"Invalid value for 'response_format': '{params.response_format}'. Use one of "
                                  f"{', '.join(TRANSCRIPTION_FORMATS)}.", param="response_format",
                                  code="invalid_value")
    if params.stream:
        raise InvalidRequestError("Streamed transcriptions are not supported by this gateway yet; leave 'stream' "
                                  "unset.", param="stream", code="unsupported_parameter")

    async def one(upstream: Provider, target: ModelTarget, body: TranscriptionParams, fields: RawBody) -> JSONReply:
        limit_mb = target.schema.int_property("file_upload_limit") if target.schema else None
        if limit_mb is not None and len(audio.content) > limit_mb * 1024 * 1024:
            raise PayloadTooLargeError(f"The audio file is {len(audio.content)} bytes; model '{params.model}' takes "
                                       f"files up to {limit_mb} MB.", param="file")
        return await upstream.speech2text().transcribe(target, body, fields, audio, translate)

    return to_response(await serve(Exchange.of(request), provider, params.model, ModelType.SPEECH2TEXT, params, raw,
                                   one))


async def _speech(request: Req, provider: str | None) -> Response[bytes] | Stream:
    body, raw = decode_body(await request.body(), SpeechRequest)
    if not body.input:
        raise InvalidRequestError("'input' must not be empty.", param="input", code="empty_input")
    if body.response_format is not None and body.response_format not in SPEECH_FORMATS:
        raise InvalidRequestError(f"Invalid value for 'response_format': '{body.response_format}'. Use one of "
                                  f"{', '.join(SPEECH_FORMATS)}.", param="response_format", code="invalid_value")

    async def one(upstream: Provider, target: ModelTarget, checked: SpeechRequest, fields: RawBody) -> AudioStream:
        limit = target.schema.int_property("word_limit") if target.schema else None
        if limit is not None and len(checked.input) > limit:
            raise InvalidRequestError(f"'input' is {len(checked.input)} characters; model '{body.model}' takes at "
                                      f"most {limit}.", param="input", code="string_above_max_length")
        return await upstream.tts().speech(target, checked, fields)

    return to_response(await serve(Exchange.of(request), provider, body.model, ModelType.TTS, body, raw, one))


@post("/audio/transcriptions", status_code=200)
async def transcriptions(request: Req) -> Response[bytes] | Stream:
    """Speech to text in the spoken language."""
    return await _transcribe(request, None, translate=False)


@post("/audio/translations", status_code=200)
async def translations(request: Req) -> Response[bytes] | Stream:
    """Speech to English text."""
    return await _transcribe(request, None, translate=True)


@post("/audio/speech", status_code=200)
async def speech(request: Req) -> Response[bytes] | Stream:
    """Text to speech, streamed."""
    return await _speech(request, None)


@post("/audio/transcriptions", status_code=200, name="seed_transcriptions")
async def seed_transcriptions(request: Req, provider: FromPath[str]) -> Response[bytes] | Stream:
    """Speech to text with a model of ``provider``."""
    return await _transcribe(request, provider, translate=False)


@post("/audio/translations", status_code=200, name="seed_translations")
async def seed_translations(request: Req, provider: FromPath[str]) -> Response[bytes] | Stream:
    """Speech to English text with a model of ``provider``."""
    return await _transcribe(request, provider, translate=True)


@post("/audio/speech", status_code=200, name="seed_speech")
async def seed_speech(request: Req, provider: FromPath[str]) -> Response[bytes] | Stream:
    """Text to speech with a model of ``provider``."""
    return await _speech(request, provider)
