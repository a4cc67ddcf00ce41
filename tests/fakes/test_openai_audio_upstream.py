"""Proves the audio and moderation routes of `FakeOpenAI` faithful, driving them with the official `openai` SDK.

Covers `/v1/audio/transcriptions` and `/v1/audio/translations` (multipart uploads, every response_format),
`/v1/audio/speech` (real WAV/PCM, chunked delivery, slow and cut streams) and `/v1/moderations`; wire objects
are also validated strictly with the SDK's own pydantic models.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import time
import wave
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio
from openai.types import ModerationCreateResponse
from openai.types.audio import Transcription, TranscriptionVerbose, Translation, TranslationVerbose

from tests.fakes import openai_wire as wire
from tests.fakes.openai_upstream import FakeOpenAI

INVALID_FORMAT = (
    "Invalid file format. Supported formats: "
    "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"
)
TEXT = "A 1.00 second recording."


def _tone_wav(seconds: float = 1.0, rate: int = 16000, hz: float = 440.0) -> bytes:
    count = round(seconds * rate)
    samples = (round(12000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(count))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{count}h", *samples))
    return buffer.getvalue()


WAV = _tone_wav()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def aclient(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        yield sdk


def _upload(fake: FakeOpenAI, path: str, files: dict[str, Any]) -> httpx.Response:
    """A raw multipart POST (`files` values: (filename or None, content))."""
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        return http.post(fake.base_url + path, files=files)


def _wav_info(data: bytes) -> tuple[int, int, int, int]:
    """(channels, sample width, rate, frames) of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()


def _speech_frames(text: str, speed: float = 1.0) -> int:
    return wire.speech_samples(wire.speech_seconds(text, speed))


# --- transcriptions -----------------------------------------------------------------------------


def test_transcription_json_and_recorded_upload(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", WAV, "audio/wav"), model="whisper-1", language="en", prompt="tones"
    )
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.http_response.json() == {"text": TEXT, "usage": {"type": "duration", "seconds": 1}}
    Transcription.model_validate(raw.http_response.json(), strict=True)
    transcription = raw.parse()
    assert transcription.text == TEXT
    assert transcription.usage is not None and transcription.usage.type == "duration"
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/audio/transcriptions")
    assert recorded.headers["content-type"].startswith("multipart/form-data; boundary=")
    form = recorded.form()
    file = form.get("file")
    assert file is not None and (file.filename, file.content_type, file.data) == ("tone.wav", "audio/wav", WAV)
    assert (form.value("model"), form.value("language"), form.value("prompt")) == ("whisper-1", "en", "tones")
    assert form.value("response_format") is None


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ("text", TEXT),
        ("srt", f"1\n00:00:00,000 --> 00:00:01,000\n{TEXT}\n\n"),
        ("vtt", f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{TEXT}\n\n"),
    ],
)
def test_transcription_text_formats(client: openai.OpenAI, response_format: Any, expected: str) -> None:
    result = client.audio.transcriptions.create(
        file=("tone.wav", WAV), model="whisper-1", response_format=response_format
    )
    assert isinstance(result, str) and result == expected
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", WAV), model="whisper-1", response_format=response_format
    )
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert int(raw.headers["content-length"]) == len(expected.encode())


def test_transcription_verbose_json(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", _tone_wav(2.5)),
        model="whisper-1",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=0.2,
    )
    TranscriptionVerbose.model_validate(raw.http_response.json(), strict=True)
    verbose = raw.parse()
    assert raw.http_response.json()["task"] == "transcribe"  # on the wire, not a field of the SDK model
    assert (verbose.language, verbose.duration) == ("english", 2.5)
    assert verbose.text == "A 2.50 second recording."
    assert verbose.usage is not None and verbose.usage.seconds == 3
    assert [(w.word, w.start, w.end) for w in verbose.words or []] == [
        ("A", 0.0, 0.62),
        ("2.50", 0.62, 1.25),
        ("second", 1.25, 1.88),
        ("recording", 1.88, 2.5),
    ]
    (segment,) = verbose.segments or []
    assert (segment.id, segment.start, segment.end, segment.text) == (0, 0.0, 2.5, " A 2.50 second recording.")
    assert segment.temperature == 0.2 and segment.tokens
    assert fake.requests[-1].form().values("timestamp_granularities[]") == ["word", "segment"]
    default = client.audio.transcriptions.create(
        file=("tone.wav", WAV), model="whisper-1", response_format="verbose_json", language="de"
    )
    assert default.words is None and default.segments and default.language == "german"


def test_transcription_token_usage_for_gpt_4o_transcribe(client: openai.OpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", WAV), model="gpt-4o-mini-transcribe", prompt="two words"
    )
    Transcription.model_validate(raw.http_response.json(), strict=True)
    assert raw.http_response.json()["usage"] == {
        "type": "tokens",
        "input_tokens": 12,
        "input_token_details": {"text_tokens": 2, "audio_tokens": 10},
        "output_tokens": 4,
        "total_tokens": 16,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            file=("tone.wav", WAV), model="gpt-4o-transcribe", response_format="verbose_json"
        )
    assert caught.value.body == {
        "message": "response_format 'verbose_json' is not compatible with model 'gpt-4o-transcribe'. "
        "Use 'json' or 'text' instead.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": "unsupported_value",
    }


def test_transcription_of_compressed_audio_uses_its_size(client: openai.OpenAI) -> None:
    mp3 = b"ID3\x04" + bytes(31996)  # taken as 128 kbit/s: 2 seconds
    assert client.audio.transcriptions.create(file=("voice.MP3", mp3), model="whisper-1").text == (
        "A 2.00 second recording."
    )


def test_timestamp_granularities_need_verbose_json(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(file=("tone.wav", WAV), model="whisper-1", timestamp_granularities=["word"])
    assert caught.value.message.endswith(
        "`response_format` must be `verbose_json` if `timestamp_granularities[]` is provided"
    )


# --- translations -------------------------------------------------------------------------------


def test_translations(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.warns(DeprecationWarning):  # openai 3.x marks translations.create deprecated
        raw = client.audio.translations.with_raw_response.create(file=("tone.ogg", WAV), model="whisper-1")
    assert raw.http_response.json() == {"text": TEXT}
    Translation.model_validate(raw.http_response.json(), strict=True)
    with pytest.warns(DeprecationWarning):
        verbose = client.audio.translations.create(
            file=("tone.wav", WAV), model="whisper-1", response_format="verbose_json"
        )
    TranslationVerbose.model_validate(verbose.model_dump(), strict=True)
    assert isinstance(verbose, TranslationVerbose)
    assert (verbose.text, verbose.language, verbose.duration) == (TEXT, "english", 1.0)
    assert verbose.model_dump().get("task") == "translate" and "usage" not in verbose.model_dump()
    with pytest.warns(DeprecationWarning):
        srt = client.audio.translations.create(file=("tone.wav", WAV), model="whisper-1", response_format="srt")
    assert srt == f"1\n00:00:00,000 --> 00:00:01,000\n{TEXT}\n\n"
    assert [r.path for r in fake.requests] == ["/v1/audio/translations"] * 3


# --- upload validation --------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["tone.aac", "tone", "tone.wav.txt"])
def test_bad_file_extension(client: openai.OpenAI, fake: FakeOpenAI, filename: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(file=(filename, WAV), model="whisper-1")
    assert caught.value.status_code == 400
    assert caught.value.message == f"Error code: 400 - {INVALID_FORMAT}"
    assert caught.value.body == {
        "message": INVALID_FORMAT,
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"model": (None, "whisper-1")},
            "1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)",
        ),
        (
            {"file": ("tone.wav", WAV)},
            "1 validation error for Request\nbody -> model\n  field required (type=value_error.missing)",
        ),
        (
            {"prompt": (None, "hi")},
            "2 validation errors for Request\nbody -> file\n  field required (type=value_error.missing)\n"
            "body -> model\n  field required (type=value_error.missing)",
        ),
    ],
)
def test_missing_file_or_model(fake: FakeOpenAI, files: dict[str, Any], message: str) -> None:
    response = _upload(fake, "/audio/transcriptions", files)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


def test_invalid_response_format_and_non_multipart_body(fake: FakeOpenAI) -> None:
    files = {"file": ("a.wav", WAV), "model": (None, "whisper-1"), "response_format": (None, "xml")}
    response = _upload(fake, "/audio/translations", files)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(
        "1 validation error for Request\nbody -> response_format\n  value is not a valid enumeration member"
    )
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        as_json = http.post(fake.base_url + "/audio/transcriptions", json={"model": "whisper-1"})
    assert as_json.status_code == 400  # a JSON body carries no form fields at all
    assert as_json.json()["error"]["message"].startswith("2 validation errors for Request\nbody -> file\n")


# --- speech -------------------------------------------------------------------------------------


def test_speech_wav_is_real_audio_sent_chunked(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    speech = client.audio.speech.create(model="gpt-4o-mini-tts", voice="coral", input=text, response_format="wav")
    headers = speech.response.headers
    assert headers["content-type"] == "audio/wav"
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert headers["x-request-id"].startswith("req_")
    assert _wav_info(speech.content) == (1, 2, 24000, _speech_frames(text))
    longer = client.audio.speech.create(model="tts-1", voice="alloy", input=text * 3, response_format="wav")
    assert _wav_info(longer.content)[3] > _wav_info(speech.content)[3]
    faster = client.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="wav", speed=2.0)
    assert _wav_info(faster.content)[3] == _speech_frames(text, 2.0)
    assert fake.requests[0].json() == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": text,
        "response_format": "wav",
    }


def test_speech_pcm_is_the_raw_samples_of_the_wav(client: openai.OpenAI) -> None:
    wav = client.audio.speech.create(model="tts-1", voice="nova", input="hello", response_format="wav").content
    pcm = client.audio.speech.create(model="tts-1", voice="nova", input="hello", response_format="pcm")
    assert pcm.response.headers["content-type"] == "audio/pcm"
    with wave.open(io.BytesIO(wav), "rb") as parsed:
        assert parsed.readframes(parsed.getnframes()) == pcm.content
    assert len(pcm.content) == 2 * _speech_frames("hello")


@pytest.mark.parametrize(
    ("response_format", "content_type", "magic"),
    [
        (None, "audio/mpeg", b"ID3"),
        ("mp3", "audio/mpeg", b"ID3"),
        ("opus", "audio/opus", b"OggS"),
        ("aac", "audio/aac", b"\xff\xf1"),
        ("flac", "audio/flac", b"fLaC"),
    ],
)
def test_speech_compressed_formats(
    client: openai.OpenAI, response_format: Any, content_type: str, magic: bytes
) -> None:
    options: Any = {} if response_format is None else {"response_format": response_format}
    speech = client.audio.speech.create(model="tts-1", voice="echo", input="hi there", **options)
    assert speech.response.headers["content-type"] == content_type
    assert speech.content.startswith(magic) and len(speech.content) > 100
    again = client.audio.speech.create(model="tts-1", voice="echo", input="hi there", **options)
    assert again.content == speech.content


def test_speech_streaming_response_chunks(client: openai.OpenAI) -> None:
    text = "a" * 150  # 3.5 s of audio: 168 044 bytes of WAV
    with client.audio.speech.with_streaming_response.create(
        model="fault-slow-stream-0.01", voice="alloy", input=text, response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        pieces = list(response.iter_bytes())
    audio = b"".join(pieces)
    assert _wav_info(audio) == (1, 2, 24000, _speech_frames(text))
    assert len(audio) == 44 + 2 * _speech_frames(text)
    assert len(pieces) > 1 and max(len(p) for p in pieces) <= wire.SPEECH_CHUNK_BYTES


def test_speech_first_bytes_arrive_before_the_fake_finished(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    started = time.monotonic()
    with client.audio.speech.with_streaming_response.create(
        model="fault-slow-stream-0.5", voice="alloy", input="x" * 100, response_format="pcm"
    ) as response:
        first = next(response.iter_bytes())
        elapsed = time.monotonic() - started
    assert first and elapsed < 1.5  # the whole body would take 29 x 0.5 s
    assert fake.wait_for_disconnect(timeout=5.0)


async def test_async_speech_stream(aclient: openai.AsyncOpenAI) -> None:
    async with aclient.audio.speech.with_streaming_response.create(
        model="tts-1", voice="sage", input="async hello", response_format="wav"
    ) as response:
        audio = b"".join([chunk async for chunk in response.iter_bytes()])
    assert _wav_info(audio)[3] == _speech_frames("async hello")
    transcription = await aclient.audio.transcriptions.create(file=("speech.wav", audio), model="whisper-1")
    assert transcription.text == f"A {wire.speech_seconds('async hello'):.2f} second recording."


def test_speech_fault_cut(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    body = {"model": "fault-cut-2", "voice": "alloy", "input": "y" * 100, "response_format": "pcm"}
    received = b""
    with (
        httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http,
        http.stream("POST", fake.base_url + "/audio/speech", json=body) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for piece in response.iter_raw():
                received += piece
    assert len(received) == 2 * wire.SPEECH_CHUNK_BYTES
    with pytest.raises(openai.APIConnectionError):
        client.audio.speech.create(model="fault-cut-1", voice="alloy", input="y" * 100)


def test_speech_fault_garbage(fake: FakeOpenAI) -> None:
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        response = http.post(
            fake.base_url + "/audio/speech", json={"model": "fault-garbage", "voice": "alloy", "input": "x"}
        )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "tts-1", "input": "hi"},
            "[{'type': 'missing', 'loc': ('body', 'voice'), 'msg': 'Field required', "
            "'input': {'model': 'tts-1', 'input': 'hi'}}]",
        ),
        (
            {"model": "tts-1", "voice": "alloy", "input": "x" * 4097},
            "[{'type': 'string_too_long', 'loc': ('body', 'input'), "
            "'msg': 'String should have at most 4096 characters', 'ctx': {'max_length': 4096}}]",
        ),
        (
            {"model": "tts-1", "voice": "alloy", "input": "hi", "response_format": "ogg"},
            "[{'type': 'enum', 'loc': ('body', 'response_format'), "
            "'msg': \"Input should be 'mp3', 'opus', 'aac', 'flac', 'wav' or 'pcm'\", 'input': 'ogg', "
            "'ctx': {'expected': \"'mp3', 'opus', 'aac', 'flac', 'wav' or 'pcm'\"}}]",
        ),
        (
            {"model": "tts-1", "voice": "alloy", "input": "hi", "speed": 5},
            "[{'type': 'less_than_equal', 'loc': ('body', 'speed'), "
            "'msg': 'Input should be less than or equal to 4.0', 'input': 5, 'ctx': {'le': 4.0}}]",
        ),
    ],
)
def test_speech_validation(fake: FakeOpenAI, body: dict[str, Any], message: str) -> None:
    with httpx.Client(headers={"authorization": f"Bearer {fake.api_key}"}) as http:
        response = http.post(fake.base_url + "/audio/speech", json=body)
    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


def test_speech_voice_validation(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="bob", input="hi")
    assert "'loc': ('body', 'voice')" in caught.value.message and "'input': 'bob'" in caught.value.message
    assert "or 'cedar'" in caught.value.message
    custom = client.audio.speech.create(model="tts-1", voice={"id": "voice_1234"}, input="hi", response_format="wav")
    assert _wav_info(custom.content)[3] == _speech_frames("hi")
    assert client.audio.speech.create(model="tts-1", voice="ash", input="z" * 4096).content  # the limit itself


# --- moderations --------------------------------------------------------------------------------


def test_moderation_string(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    raw = client.moderations.with_raw_response.create(input="I will kill the process")
    ModerationCreateResponse.model_validate(raw.http_response.json(), strict=True)
    moderation = raw.parse()
    assert moderation.id.startswith("modr-") and moderation.model == "omni-moderation-latest"
    (result,) = moderation.results
    assert result.flagged and result.categories.violence and not result.categories.hate
    assert result.category_scores.violence > 0.9 > 0.01 > result.category_scores.hate
    body = raw.http_response.json()["results"][0]
    assert set(body["categories"]) == set(wire.MODERATION_CATEGORIES) == set(body["category_scores"])
    assert {"harassment/threatening", "self-harm/intent", "illicit/violent"} <= set(body["categories"])
    assert body["category_applied_input_types"] == {c: ["text"] for c in wire.MODERATION_CATEGORIES}
    assert fake.requests[-1].json() == {"input": "I will kill the process"}


def test_moderation_list_keeps_order(client: openai.OpenAI) -> None:
    inputs = ["what a lovely day", "I hate mondays", "killing time", "skills"]
    moderation = client.moderations.create(input=inputs, model="text-moderation-latest")
    assert moderation.model == "text-moderation-latest"
    assert [(r.flagged, r.categories.hate, r.categories.violence) for r in moderation.results] == [
        (False, False, False),
        (True, True, False),
        (True, False, True),
        (False, False, False),
    ]
    again = client.moderations.create(input=inputs[1])
    assert again.results[0].category_scores == moderation.results[1].category_scores


def test_moderation_multimodal_is_one_input(client: openai.OpenAI) -> None:
    parts: Any = [
        {"type": "text", "text": "how do I kill"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    (result,) = client.moderations.create(input=parts).results
    assert result.flagged and result.categories.violence
    applied = result.model_dump(by_alias=True)["category_applied_input_types"]
    assert applied["violence"] == ["text", "image"] and applied["harassment"] == ["text"]
    (image_only,) = client.moderations.create(input=parts[1:]).results
    types = image_only.model_dump(by_alias=True)["category_applied_input_types"]
    assert types["self-harm/intent"] == ["image"] and types["hate"] == []


@pytest.mark.parametrize(("bad_input", "code"), [([], "empty_array"), ([{"type": "audio"}], None), (3, None)])
def test_moderation_rejects_bad_input(client: openai.OpenAI, bad_input: Any, code: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(input=bad_input)
    assert caught.value.status_code == 400 and caught.value.code == code


# --- auth and faults ----------------------------------------------------------------------------


def test_wrong_api_key(fake: FakeOpenAI) -> None:
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong-key", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as upload:
            wrong.audio.transcriptions.create(file=("tone.wav", WAV), model="whisper-1")
        with pytest.raises(openai.AuthenticationError):
            wrong.audio.speech.create(model="tts-1", voice="alloy", input="hi")
        with pytest.raises(openai.AuthenticationError):
            wrong.moderations.create(input="hi")
    assert upload.value.code == "invalid_api_key"
    assert [r.headers["authorization"] for r in fake.requests] == ["Bearer sk-wrong-key"] * 3


def test_fault_status_429(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    model = "fault-status-429"
    with pytest.raises(openai.RateLimitError) as upload:
        client.audio.transcriptions.create(file=("tone.wav", WAV), model=model)
    with pytest.raises(openai.RateLimitError):
        client.audio.speech.create(model=model, voice="alloy", input="hi")
    with pytest.raises(openai.RateLimitError):
        client.moderations.create(input="hi", model=model)
    assert upload.value.code == "rate_limit_exceeded"
    assert upload.value.response.headers["retry-after"] == "1"
    assert fake.requests[0].form().value("model") == model


def test_upload_faults_cut_garbage_and_stall(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        client.audio.transcriptions.create(file=("tone.wav", WAV), model="fault-cut-1")
    garbage = _upload(fake, "/audio/transcriptions", {"file": ("a.wav", WAV), "model": (None, "fault-garbage")})
    assert garbage.status_code == 200 and garbage.headers["content-type"].startswith("text/html")
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).moderations.create(input="hi", model="fault-stall-5")
    assert fake.wait_for_disconnect(timeout=5.0)
    slow = client.audio.transcriptions.create(file=("tone.wav", WAV), model="fault-stall-0.05")
    assert slow.text == TEXT


async def test_async_transcription_fault_status(aclient: openai.AsyncOpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.InternalServerError):
        await aclient.audio.transcriptions.create(file=("tone.wav", WAV), model="fault-status-500")
    assert await asyncio.to_thread(lambda: len(fake.requests)) == 1
