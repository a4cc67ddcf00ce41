"""Speech to text, text to speech and moderation end to end: the official ``openai`` SDK against the gateway in front
of the fake OpenAI (whisper, gpt-4o-transcribe, tts-1, omni-moderation) and a fake Xinference server (every model
type by model UID), with real WAV audio going up and coming back."""

from __future__ import annotations

import io
import sys
import time
import wave
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY
from tests.fakes import openai_wire as wire
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.xinference_upstream import FakeXinference
from tests.gateway import GatewayProcess
from tests.test_examples import run_example

XINFERENCE_KEY = "xinf-canary-key-5e1d"
MAX_AUDIO_BYTES = 27 * 1024 * 1024  # above whisper-1's own 25 MB, so that both limits can be met
MAX_BODY_BYTES = 28 * 1024 * 1024

PROFILE = f"""
server:
  api_keys: ["${{GATEWAY_KEY}}"]
  max_audio_bytes: {MAX_AUDIO_BYTES}
  max_body_bytes: {MAX_BODY_BYTES}
providers:
  - {{name: openai, provider: openai, credentials: {{api_key: "${{FAKE_KEY}}", base_url: "${{FAKE_URL}}"}},
     models: ["*"]}}
  - name: xinference
    provider: xinference
    credentials: {{server_url: "${{XINF_URL}}", api_key: "${{XINF_KEY}}"}}
    models:
      - {{model: qwen, model_type: llm, credentials: {{model_uid: qwen-chat}}}}
      - {{model: bge-m3, model_type: embeddings}}
      - {{model: bge-reranker-v2-m3, model_type: rerank}}
      - {{model: whisper-small, model_type: speech2text}}
      - {{model: ChatTTS, model_type: tts}}
      - {{model: ghost, model_type: llm, credentials: {{model_uid: stopped-model}}}}   # not launched
router: {{retries: 0}}
"""

ONE_SECOND = wire.wav_file(wire.tone_pcm(16000), rate=16000)
TEXT = "A 1.00 second recording."
SECRETS = (UPSTREAM_KEY, XINFERENCE_KEY)


class Upstreams:
    def __init__(self, openai_fake: FakeOpenAI) -> None:
        self.openai = openai_fake
        self.xinference = FakeXinference(XINFERENCE_KEY)


@pytest.fixture(scope="module")
def upstreams(upstream: FakeOpenAI) -> Iterator[Upstreams]:
    fakes = Upstreams(upstream)
    with fakes.xinference:
        yield fakes


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams) -> Iterator[GatewayProcess]:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": upstreams.openai.base_url, "FAKE_KEY": UPSTREAM_KEY,
           "XINF_URL": upstreams.xinference.base_url, "XINF_KEY": XINFERENCE_KEY}
    with GatewayProcess(PROFILE, env) as gw:
        yield gw


def _post(gateway: GatewayProcess, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {GATEWAY_KEY}", **kwargs.pop("headers", {})}
    return httpx.post(gateway.base_url + path, headers=headers, timeout=10, **kwargs)


def _assert_error(response: httpx.Response, status: int, param: str | None, code: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"] and error["type"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    for secret in SECRETS:
        assert secret not in response.text
    return error


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getnframes() / wav.getframerate()


# --- speech to text -----------------------------------------------------------------------------


def test_transcription_json_with_usage_and_cost_per_second(client: openai.OpenAI, upstreams: Upstreams) -> None:
    upstreams.openai.clear()
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", ONE_SECOND, "audio/wav"), model="openai/whisper-1", language="en", prompt="tones")
    answer = raw.parse()
    assert answer.text == TEXT
    assert answer.usage is not None and answer.usage.type == "duration" and answer.usage.seconds == 1
    assert Decimal(raw.headers["x-model-runtime-cost"]) == Decimal("0.0001")  # whisper: $0.006 a minute
    assert raw.headers["x-model-runtime-deployment"] == "openai/whisper-1"
    sent = upstreams.openai.requests[-1]
    assert sent.path == "/v1/audio/transcriptions"
    form = sent.form()
    assert form.value("model") == "whisper-1" and form.value("language") == "en" and form.value("prompt") == "tones"
    upload = form.get("file")
    assert upload is not None and upload.filename == "tone.wav" and upload.data == ONE_SECOND


def test_transcription_billed_in_tokens(client: openai.OpenAI) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", ONE_SECOND), model="openai/gpt-4o-transcribe")
    usage = raw.parse().usage
    assert usage is not None and usage.type == "tokens"
    expected = (Decimal(6) * usage.input_tokens + Decimal(10) * usage.output_tokens) / 1_000_000
    assert usage.input_tokens > 0 and Decimal(raw.headers["x-model-runtime-cost"]) == expected


@pytest.mark.parametrize(("response_format", "expected"), [
    ("text", TEXT),
    ("srt", f"1\n00:00:00,000 --> 00:00:01,000\n{TEXT}\n\n"),
    ("vtt", f"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{TEXT}\n\n"),
])
def test_transcription_text_formats(client: openai.OpenAI, response_format: Any, expected: str) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=("tone.wav", ONE_SECOND), model="openai/whisper-1", response_format=response_format)
    assert raw.http_response.text.strip() == expected.strip()
    assert raw.headers["content-type"].startswith("text/plain")


def test_verbose_json_with_timestamp_granularities(client: openai.OpenAI, upstreams: Upstreams) -> None:
    upstreams.openai.clear()
    verbose = client.audio.transcriptions.create(
        file=("tone.wav", ONE_SECOND), model="openai/whisper-1", response_format="verbose_json",
        timestamp_granularities=["word", "segment"], temperature=0.2)
    assert verbose.duration == pytest.approx(1.0) and verbose.text == TEXT
    assert verbose.words is not None and [w.word for w in verbose.words] == ["A", "1.00", "second", "recording"]
    assert verbose.segments is not None and verbose.segments[0].temperature == pytest.approx(0.2)
    form = upstreams.openai.requests[-1].form()
    assert form.values("timestamp_granularities[]") == ["word", "segment"]
    assert form.value("temperature") == "0.2"


def test_translation(client: openai.OpenAI, upstreams: Upstreams) -> None:
    upstreams.openai.clear()
    with pytest.warns(DeprecationWarning):  # openai 3.x marks translations deprecated; the route still exists
        answer = client.audio.translations.create(file=("tone.wav", ONE_SECOND), model="openai/whisper-1")
    assert answer.text == TEXT
    assert upstreams.openai.requests[-1].path == "/v1/audio/translations"


@pytest.mark.parametrize(("files", "data", "status", "param", "code"), [
    ({"file": ("notes.txt", b"hello")}, {"model": "openai/whisper-1"}, 400, "file", "invalid_file_format"),
    ({"file": ("noextension", ONE_SECOND)}, {"model": "openai/whisper-1"}, 400, "file", "invalid_file_format"),
    ({"other": ("tone.wav", ONE_SECOND)}, {"model": "openai/whisper-1"}, 400, "file", "missing_required_parameter"),
    ({"file": ("tone.wav", b"")}, {"model": "openai/whisper-1"}, 400, "file", "empty_file"),
    ({"file": ("big.wav", bytes(MAX_AUDIO_BYTES + 1))}, {"model": "openai/whisper-1"}, 413, "file", None),
    ({"file": ("tone.wav", ONE_SECOND)}, {"model": "openai/whisper-1", "response_format": "xml"}, 400,
     "response_format", "invalid_value"),
    ({"file": ("tone.wav", ONE_SECOND)}, {"model": "openai/whisper-1", "stream": "true"}, 400, "stream",
     "unsupported_parameter"),
    ({"file": ("tone.wav", ONE_SECOND)}, {"model": "openai/whisper-1", "temperature": "warm"}, 400,
     "temperature", None),
    ({"file": ("tone.wav", ONE_SECOND)}, {"model": "nobody/whisper"}, 404, "model", "model_not_found"),
    ({"file": ("tone.wav", ONE_SECOND)}, {"model": "openai/gpt-4o-mini"}, 400, "model", None),
    ({"file": ("tone.wav", ONE_SECOND)}, {}, 400, "model", "missing_required_parameter"),
])
def test_upload_errors_never_reach_the_upstream(gateway: GatewayProcess, upstreams: Upstreams, files: Any,
                                                data: dict[str, str], status: int, param: str | None,
                                                code: str | None) -> None:
    upstreams.openai.clear()
    response = _post(gateway, "/audio/transcriptions", files=files, data=data)
    error = _assert_error(response, status, param, code)
    if code == "invalid_file_format":
        assert "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm" in error["message"]
    assert upstreams.openai.requests == []


def test_body_limits_and_content_type(gateway: GatewayProcess) -> None:
    too_big = _post(gateway, "/audio/transcriptions", files={"file": ("big.wav", bytes(MAX_BODY_BYTES + 10))},
                    data={"model": "openai/whisper-1"})
    _assert_error(too_big, 413, None, None)
    as_json = _post(gateway, "/audio/transcriptions", json={"model": "openai/whisper-1", "file": "tone.wav"})
    _assert_error(as_json, 400, None, "invalid_content_type")
    broken = _post(gateway, "/audio/transcriptions", content=b"--x\r\nnot a part",
                   headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code in (400, 413) and "error" in broken.json()


def test_model_upload_limit_is_checked_before_the_upstream(gateway: GatewayProcess, upstreams: Upstreams) -> None:
    """whisper-1 takes files up to 25 MB (its file_upload_limit), less than this gateway's max_audio_bytes."""
    upstreams.openai.clear()
    too_long = _post(gateway, "/audio/transcriptions", files={"file": ("long.wav", bytes(25 * 1024 * 1024 + 1))},
                     data={"model": "openai/whisper-1"})
    assert "25 MB" in _assert_error(too_long, 413, "file", None)["message"]
    assert upstreams.openai.requests == []


def test_upstream_refusals_are_passed_on(gateway: GatewayProcess) -> None:
    """gpt-4o-transcribe answers only json/text: the upstream's 400 arrives as an OpenAI error, not a 500."""
    response = _post(gateway, "/audio/transcriptions", files={"file": ("tone.wav", ONE_SECOND)},
                     data={"model": "openai/gpt-4o-transcribe", "response_format": "srt"})
    _assert_error(response, 400, None, None)
    limited = _post(gateway, "/audio/transcriptions", files={"file": ("tone.wav", ONE_SECOND)},
                    data={"model": "openai/fault-status-429"})
    _assert_error(limited, 429, None, None)


# --- text to speech -----------------------------------------------------------------------------


def test_speech_is_real_audio_with_its_content_type_and_cost(client: openai.OpenAI, upstreams: Upstreams) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    upstreams.openai.clear()
    with client.audio.speech.with_streaming_response.create(
            model="openai/tts-1", voice="alloy", input=text, response_format="wav", speed=2) as response:
        assert response.headers["content-type"] == "audio/wav"
        assert Decimal(response.headers["x-model-runtime-cost"]) == Decimal(15) * len(text) / 1_000_000
        audio = response.read()
    assert _wav_seconds(audio) == pytest.approx(wire.speech_seconds(text, 2), abs=1e-3)
    assert upstreams.openai.requests[-1].json() == {"model": "tts-1", "voice": "alloy", "input": text,
                                                    "response_format": "wav", "speed": 2}


def test_speech_formats_carry_their_content_types(client: openai.OpenAI) -> None:
    for response_format, content_type in (("mp3", "audio/mpeg"), ("flac", "audio/flac"), ("pcm", "audio/pcm")):
        speech = client.audio.speech.create(model="openai/tts-1", voice="nova", input="Hi.",
                                            response_format=response_format)  # type: ignore[arg-type]
        assert speech.response.headers["content-type"] == content_type
        assert len(speech.content) > 100


def test_speech_streams_chunk_by_chunk(gateway: GatewayProcess) -> None:
    """The fake sends 4 KiB every 0.1 s; the first bytes reach the client long before the last are sent."""
    text = "x" * 20
    body = {"model": "openai/fault-slow-stream-0.1", "voice": "alloy", "input": text, "response_format": "wav"}
    audio, arrivals = b"", []
    started = time.monotonic()
    with httpx.stream("POST", gateway.base_url + "/audio/speech", json=body, timeout=30,
                      headers={"authorization": f"Bearer {GATEWAY_KEY}"}) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            arrivals.append(time.monotonic() - started)
            audio += chunk
    pieces = -(-len(audio) // wire.SPEECH_CHUNK_BYTES)
    assert pieces >= 5 and _wav_seconds(audio) == pytest.approx(wire.speech_seconds(text), abs=1e-3)
    assert arrivals[0] < arrivals[-1] - 0.1 * (pieces - 2)


def test_speech_cut_by_the_upstream_ends_as_an_incomplete_transfer(gateway: GatewayProcess) -> None:
    body = {"model": "openai/fault-cut-2", "voice": "alloy", "input": "y" * 300, "response_format": "wav"}
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
            "POST", gateway.base_url + "/audio/speech", json=body, timeout=10,
            headers={"authorization": f"Bearer {GATEWAY_KEY}"}) as response:
        assert response.status_code == 200
        response.read()
    assert "Traceback" not in gateway.log()


@pytest.mark.parametrize(("body", "status", "param", "code"), [
    ({"model": "openai/tts-1", "voice": "alloy", "input": ""}, 400, "input", "empty_input"),
    ({"model": "openai/tts-1", "voice": "alloy", "input": "x" * 4097}, 400, "input", "string_above_max_length"),
    ({"model": "openai/tts-1", "voice": "alloy", "input": "hi", "response_format": "ogg"}, 400, "response_format",
     "invalid_value"),
    ({"model": "openai/tts-1", "voice": "alloy", "input": "hi", "speed": 9}, 400, "speed", None),
    ({"model": "openai/tts-1", "voice": "alloy"}, 400, "input", "missing_required_parameter"),
    ({"model": "openai/whisper-1", "voice": "alloy", "input": "hi"}, 400, "model", None),
    ({"model": "nobody/tts", "voice": "alloy", "input": "hi"}, 404, "model", "model_not_found"),
    ({"model": "openai/fault-status-503", "voice": "alloy", "input": "hi"}, 503, None, None),
])
def test_speech_errors(gateway: GatewayProcess, body: dict[str, Any], status: int, param: str | None,
                       code: str | None) -> None:
    _assert_error(_post(gateway, "/audio/speech", json=body), status, param, code)


def test_voices_are_listed_per_model(gateway: GatewayProcess) -> None:
    headers = {"authorization": f"Bearer {GATEWAY_KEY}"}
    model = httpx.get(gateway.base_url + "/models/openai/tts-1", headers=headers).json()
    assert model["model_type"] == "tts" and {"alloy", "shimmer"} <= set(model["voices"])
    catalogue = httpx.get(gateway.base_url + "/providers/openai/models", headers=headers).json()
    tts = next(m for m in catalogue["data"] if m["model"] == "tts-1")
    assert [v["mode"] for v in tts["model_properties"]["voices"]] == model["voices"]


# --- moderation ---------------------------------------------------------------------------------


def test_moderation_of_a_string_and_a_list(client: openai.OpenAI, upstreams: Upstreams) -> None:
    upstreams.openai.clear()
    one = client.moderations.create(input="I will kill the process.", model="openai/omni-moderation-latest")
    assert one.results[0].flagged and one.results[0].categories.violence
    assert one.model == "omni-moderation-latest"
    many = client.moderations.create(input=["Have a nice day.", "I hate Mondays."],
                                     model="openai/omni-moderation-latest")
    assert [r.flagged for r in many.results] == [False, True] and many.results[1].categories.hate
    assert upstreams.openai.requests[-1].json()["input"] == ["Have a nice day.", "I hate Mondays."]


def test_moderation_default_model_and_errors(client: openai.OpenAI, gateway: GatewayProcess,
                                             upstreams: Upstreams) -> None:
    upstreams.openai.clear()
    assert not client.moderations.create(input="Sunny today.").results[0].flagged
    assert upstreams.openai.requests[-1].json()["model"] == "omni-moderation-latest"
    _assert_error(_post(gateway, "/moderations", json={"input": []}), 400, "input", None)
    _assert_error(_post(gateway, "/moderations", json={"model": "openai/tts-1", "input": "x"}), 400, "model", None)


# --- Xinference: every type by model UID --------------------------------------------------------


def test_xinference_serves_every_type_by_model_uid(client: openai.OpenAI, gateway: GatewayProcess,
                                                    upstreams: Upstreams) -> None:
    fake = upstreams.xinference
    fake.clear()
    chat = client.chat.completions.create(model="xinference/qwen", messages=[{"role": "user", "content": "Hi"}])
    assert chat.choices[0].message.content and chat.choices[0].finish_reason == "stop"
    assert fake.requests[-1].json()["model"] == "qwen-chat"  # the model_uid credential
    assert fake.requests[-1].headers["authorization"] == f"Bearer {XINFERENCE_KEY}"
    vectors = client.embeddings.create(model="xinference/bge-m3", input=["one", "two"]).data
    assert len(vectors) == 2 and len(vectors[0].embedding) > 1
    ranked = _post(gateway, "/rerank", json={"model": "xinference/bge-reranker-v2-m3", "query": "capital of France",
                                             "documents": ["Bananas.", "Paris is the capital of France."]})
    assert ranked.status_code == 200 and ranked.json()["results"][0]["index"] == 1
    heard = client.audio.transcriptions.create(file=("tone.wav", ONE_SECOND), model="xinference/whisper-small")
    assert "1.0" in heard.text
    spoken = client.audio.speech.create(model="xinference/ChatTTS", voice="default", input="Hello there.",
                                        response_format="wav")
    assert _wav_seconds(spoken.content) > 0
    seeded = httpx.post(gateway.url + "/xinference/v1/rerank", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                        json={"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a", "b"], "top_n": 1})
    assert seeded.status_code == 200 and len(seeded.json()["results"]) == 1


def test_xinference_refusals(gateway: GatewayProcess) -> None:
    """A model of the wrong ability, and one the server does not run, fail as OpenAI errors."""
    wrong = _post(gateway, "/chat/completions", json={"model": "xinference/bge-m3",
                                                      "messages": [{"role": "user", "content": "Hi"}]})
    _assert_error(wrong, 400, "model", None)
    gone = _post(gateway, "/chat/completions", json={"model": "xinference/ghost",
                                                     "messages": [{"role": "user", "content": "Hi"}]})
    assert "stopped-model" in _assert_error(gone, 404, None, None)["message"]


def test_the_readme_example_of_the_other_model_types(gateway: GatewayProcess, tmp_path: Path) -> None:
    speech = tmp_path / "hello.wav"
    out = run_example(gateway, sys.executable, "examples/more.py", env={
        "RERANK_MODEL": "xinference/bge-reranker-v2-m3", "SPEECH_FILE": str(speech)}).splitlines()
    assert [line.split(" ", 1)[1] for line in out[:2]] == ["Paris is the capital of France.", "Berlin is in Germany."]
    seconds = _wav_seconds(speech.read_bytes())
    assert out[2:] == [f"{speech}: {speech.stat().st_size} bytes", f"heard: A {seconds:.2f} second recording.",
                       "flagged: True"]
