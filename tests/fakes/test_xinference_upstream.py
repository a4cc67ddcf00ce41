"""Proves `FakeXinference` faithful: the official `xinference-client` (`RESTfulClient` and the model handles it
returns) must work against it as against Xinference, errors must surface as the client raises them, and the
OpenAI-compatible routes must satisfy the official `openai` SDK (chat, streamed or not, and embeddings)."""

from __future__ import annotations

import io
import json
import math
import re
import time
import wave
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from xinference_client import RESTfulClient  # type: ignore[import-untyped]
from xinference_client.client.restful.restful_client import (  # type: ignore[import-untyped]
    RESTfulAudioModelHandle,
    RESTfulChatModelHandle,
    RESTfulEmbeddingModelHandle,
    RESTfulRerankModelHandle,
)

from tests.fakes.openai_wire import embedding_vector
from tests.fakes.relevance import relevance
from tests.fakes.upstream_kit import parse_multipart
from tests.fakes.xinference_upstream import ACTOR_ADDRESS, SAMPLE_RATE, FakeXinference, transcribe

MESSAGES: list[Any] = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there friend"}]
REPLY = "echo: hello there friend"
QUERY = "which city is the capital of France"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital city of France.",
    "France is a country in Europe.",
    "Bananas are yellow.",
]
ACTOR = re.escape(f"[address={ACTOR_ADDRESS}, pid=") + r"\d+\] "


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeXinference]:
    with FakeXinference() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeXinference) -> None:
    fake.clear()


@pytest.fixture
def client(fake: FakeXinference) -> Iterator[Any]:
    with closing(RESTfulClient(fake.base_url)) as xinference:
        yield xinference


@pytest.fixture
def sdk(fake: FakeXinference) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url + "/v1", api_key="not-used", max_retries=0) as client:
        yield client


def _handle(client: Any, uid: str) -> Any:
    return closing(client.get_model(uid))


def _post(fake: FakeXinference, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    with httpx.Client() as http:
        return http.post(fake.base_url + path, content=content, headers=headers, **kwargs)


# --- models -------------------------------------------------------------------------------------


def test_list_models_is_keyed_by_uid(client: Any, fake: FakeXinference) -> None:
    listed = client.list_models()
    assert list(listed) == ["qwen-chat", "bge-m3", "bge-reranker-v2-m3", "whisper-small", "ChatTTS"]
    for uid, item in listed.items():
        assert (item["id"], item["object"], item["created"], item["owned_by"]) == (uid, "model", 0, "xinference")
        assert item["replica"] == 1
    assert listed["qwen-chat"]["model_type"] == "LLM" and listed["qwen-chat"]["model_ability"] == ["generate", "chat"]
    assert listed["bge-m3"]["dimensions"] == 8
    assert listed["bge-reranker-v2-m3"]["type"] == "normal" and "model_ability" not in listed["bge-reranker-v2-m3"]
    assert listed["ChatTTS"]["model_ability"] == ["text2audio"]
    # The client asks whether auth is on before anything else, and sends no key when it is off.
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/v1/cluster/auth"), ("GET", "/v1/models")]
    assert all("authorization" not in r.headers for r in fake.requests)
    assert httpx.get(fake.base_url + "/v1/cluster/auth").json() == {"auth": False}


def test_get_model_returns_the_handle_for_the_model_type(client: Any) -> None:
    kinds = {
        "qwen-chat": RESTfulChatModelHandle,
        "bge-m3": RESTfulEmbeddingModelHandle,
        "bge-reranker-v2-m3": RESTfulRerankModelHandle,
        "whisper-small": RESTfulAudioModelHandle,
    }
    for uid, kind in kinds.items():
        with _handle(client, uid) as handle:
            assert type(handle) is kind
    description = client.describe_model("qwen-chat")
    assert {"model_type", "model_name", "model_ability", "model_format", "context_length"} <= set(description)
    assert description["model_name"] == "qwen-chat"


def test_describe_unknown_uid_is_a_400_detail(client: Any, fake: FakeXinference) -> None:
    with pytest.raises(RuntimeError) as caught:
        client.get_model("not-launched")
    assert str(caught.value) == (
        "Failed to get the model description, detail: Model not found in the model list, uid: not-launched"
    )
    response = httpx.get(fake.base_url + "/v1/models/not-launched")
    assert response.status_code == 400
    assert response.json() == {"detail": "Model not found in the model list, uid: not-launched"}


def test_only_the_chat_ability_makes_a_chat_handle() -> None:
    models = {"base-llm": ("LLM", ("generate",)), "odd-llm": ("LLM", ("vision",))}
    with FakeXinference(models=models) as server, closing(RESTfulClient(server.base_url)) as client:
        with _handle(client, "base-llm") as handle:
            assert type(handle).__name__ == "RESTfulGenerateModelHandle"
        with pytest.raises(ValueError, match="Unrecognized model ability"):
            client.get_model("odd-llm")


# --- chat ---------------------------------------------------------------------------------------


def test_chat_with_the_client(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "qwen-chat") as handle:
        completion = handle.chat(MESSAGES, generate_config={"max_tokens": 64})
    assert completion["object"] == "chat.completion" and completion["id"].startswith("chatcmpl-")
    assert completion["model"] == "qwen-chat"
    (choice,) = completion["choices"]
    assert choice["message"] == {"role": "assistant", "content": REPLY}
    assert choice["finish_reason"] == "stop"
    assert completion["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    assert not {"service_tier", "system_fingerprint"} & set(completion)
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.json() == {"model": "qwen-chat", "messages": MESSAGES, "max_tokens": 64}


def test_chat_stream_with_the_client(client: Any) -> None:
    with _handle(client, "qwen-chat") as handle:
        chunks = list(handle.chat(MESSAGES, generate_config={"stream": True}))
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "qwen-chat" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == REPLY
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_stream_wire_framing_is_sse_starlette(fake: FakeXinference) -> None:
    body = {"model": "qwen-chat", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    response = _post(fake, "/v1/chat/completions", body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-store" and "content-length" not in response.headers
    events = response.text.split("\r\n\r\n")
    assert events.pop() == "" and events.pop() == "data: [DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(e.removeprefix("data: ")) for e in events]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 9


def test_chat_with_the_openai_sdk(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(model="qwen-chat", messages=MESSAGES, n=3)
    assert raw.headers["content-type"] == "application/json"
    ChatCompletion.model_validate(raw.http_response.json(), strict=True)
    completion = raw.parse()
    assert [c.message.content for c in completion.choices] == [REPLY]  # Xinference ignores `n`
    assert completion.usage is not None and completion.usage.total_tokens == 9


def test_chat_stream_with_the_openai_sdk(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="qwen-chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5


def test_chat_tool_calls(sdk: openai.OpenAI) -> None:
    tools: list[Any] = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = sdk.chat.completions.create(model="qwen-chat", messages=MESSAGES, tools=tools)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
    call: Any = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"echo": "hello there friend"}


def test_chat_without_a_prompt_is_rejected_before_the_model_lookup(sdk: openai.OpenAI) -> None:
    no_prompt: list[list[Any]] = [[], [{"role": "assistant", "content": "hi"}]]
    for messages in no_prompt:
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.chat.completions.create(model="not-launched", messages=messages)
        assert caught.value.body == {"detail": "Invalid input. Please specify the prompt."}


def test_chat_on_a_model_that_cannot_chat(sdk: openai.OpenAI, client: Any) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="bge-m3", messages=MESSAGES)
    body: Any = caught.value.body
    assert re.fullmatch(ACTOR + r"Model .*model_name='bge-m3'.* is not for chat\.", body["detail"])
    # Streaming, the 200 is already out when the model actor fails: the error comes as an SSE event.
    stream = sdk.chat.completions.create(model="bge-m3", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="An error occurred during streaming"):
        list(stream)
    with _handle(client, "qwen-chat") as handle:  # the client parses the same event and raises it
        handle._model_uid = "whisper-small"
        with pytest.raises(Exception, match=r"is not for chat\.$"):
            list(handle.chat(MESSAGES, generate_config={"stream": True}))


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_with_the_client(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "bge-m3") as handle:
        result = handle.create_embedding(["hello world", "second text"])
    assert (result["object"], result["model"], result["model_replica"]) == ("list", "bge-m3", "bge-m3-0")
    assert [d["index"] for d in result["data"]] == [0, 1]
    assert result["data"][0]["embedding"] == embedding_vector(b"s:hello world", 8)
    assert result["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert fake.requests[-1].json() == {"model": "bge-m3", "input": ["hello world", "second text"]}


def test_embeddings_with_the_openai_sdk(sdk: openai.OpenAI, fake: FakeXinference) -> None:
    raw = sdk.embeddings.with_raw_response.create(model="bge-m3", input="hello world", encoding_format="float")
    CreateEmbeddingResponse.model_validate(raw.http_response.json())
    floats = raw.parse().data[0].embedding
    assert math.isclose(math.hypot(*floats), 1.0, rel_tol=1e-6)
    decoded = sdk.embeddings.create(model="bge-m3", input="hello world")  # the SDK asks for base64 itself
    assert fake.requests[-1].json()["encoding_format"] == "base64"
    assert decoded.data[0].embedding == floats and decoded.model == "bge-m3"


def test_embeddings_on_a_model_of_another_type(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.embeddings.create(model="bge-reranker-v2-m3", input="x")
    body: Any = caught.value.body
    assert body["detail"].endswith("is not for creating embedding.")


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_with_the_client(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "bge-reranker-v2-m3") as handle:
        plain = handle.rerank(DOCUMENTS, QUERY)
        full = handle.rerank(DOCUMENTS, QUERY, top_n=2, return_documents=True, return_len=True)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", plain["id"])  # uuid1
    scores = [relevance(QUERY, d) for d in DOCUMENTS]
    expected = sorted(range(4), key=lambda i: scores[i], reverse=True)
    assert [r["index"] for r in plain["results"]] == expected == [1, 0, 2, 3]
    assert [r["relevance_score"] for r in plain["results"]] == [scores[i] for i in expected]
    assert all(r["document"] is None for r in plain["results"])
    assert plain["meta"] == {"api_version": None, "billed_units": None, "tokens": None, "warnings": None}
    assert full["results"] == [
        {"index": i, "relevance_score": scores[i], "document": {"text": DOCUMENTS[i]}} for i in expected[:2]
    ]
    assert full["meta"]["tokens"] == {"input_tokens": 50, "output_tokens": 50}
    sent = fake.requests[-1].json()
    assert sent == {"model": "bge-reranker-v2-m3", "documents": DOCUMENTS, "query": QUERY, "top_n": 2,
                    "max_chunks_per_doc": None, "return_documents": True, "return_len": True, "kwargs": "{}"}


def test_rerank_on_an_llm_and_unsupported_options(client: Any) -> None:
    with _handle(client, "bge-reranker-v2-m3") as handle:
        handle._model_uid = "qwen-chat"
        with pytest.raises(RuntimeError) as wrong:
            handle.rerank(DOCUMENTS, QUERY)
        handle._model_uid = "bge-reranker-v2-m3"
        with pytest.raises(RuntimeError) as chunks:
            handle.rerank(DOCUMENTS, QUERY, max_chunks_per_doc=2)
    assert re.fullmatch("Failed to rerank documents, detail: " + ACTOR + r"Model .* is not for reranking\.",
                        str(wrong.value))
    assert str(chunks.value).endswith("rerank hasn't support `max_chunks_per_doc` parameter.")


def test_unknown_uid_is_a_404_with_a_negative_cache(fake: FakeXinference) -> None:
    body = {"model": "not-launched", "query": QUERY, "documents": DOCUMENTS}
    first, second = _post(fake, "/v1/rerank", body), _post(fake, "/v1/rerank", body)
    assert first.status_code == second.status_code == 404
    assert first.json() == {"detail": "Model not found in the model list, uid: not-launched"}
    assert second.json() == {
        "detail": "Model not found in the model list, uid: not-launched (cached, retry after 10.0s)"
    }
    fake.clear()
    assert _post(fake, "/v1/rerank", body).json() == first.json()


def test_invalid_bodies_are_plain_text_500s(fake: FakeXinference) -> None:
    missing = _post(fake, "/v1/rerank", {"model": "bge-reranker-v2-m3", "documents": DOCUMENTS})
    assert missing.status_code == 500 and missing.headers["content-type"].startswith("text/plain")
    assert missing.text == ("Internal Server Error: 1 validation error for RerankRequest\nquery\n"
                            "  field required (type=value_error.missing)")
    broken = _post(fake, "/v1/embeddings", b"{not json")
    assert (broken.status_code, broken.text) == (
        500, "Internal Server Error: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
    both = _post(fake, "/v1/chat/completions", {"model": None})
    assert both.text == ("Internal Server Error: 2 validation errors for CreateChatCompletion\n"
                         "model\n  none is not an allowed value (type=type_error.none.not_allowed)\n"
                         "messages\n  field required (type=value_error.missing)")
    listed = _post(fake, "/v1/audio/speech", [1])
    assert listed.text == ("Internal Server Error: 1 validation error for SpeechRequest\n__root__\n"
                           "  SpeechRequest expected dict not list (type=type_error)")


def test_unknown_routes_and_methods(fake: FakeXinference) -> None:
    assert _post(fake, "/v1/nope", {}).json() == {"detail": "Not Found"}
    wrong = httpx.get(fake.base_url + "/v1/rerank")
    assert (wrong.status_code, wrong.json(), wrong.headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "POST")


# --- audio --------------------------------------------------------------------------------------


def test_speech_wav_is_a_real_wav_that_transcribes_back(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "ChatTTS") as tts:
        audio = tts.speech("the quick brown fox", voice="default", response_format="wav", speed=2.0)
    assert fake.requests[-1].json() == {"model": "ChatTTS", "input": "the quick brown fox", "voice": "default",
                                        "response_format": "wav", "speed": 2.0, "stream": False, "kwargs": "{}"}
    with wave.open(io.BytesIO(audio), "rb") as source:
        assert (source.getnchannels(), source.getsampwidth(), source.getframerate()) == (1, 2, SAMPLE_RATE)
        seconds = source.getnframes() / source.getframerate()
    assert math.isclose(seconds, 0.5, abs_tol=0.01)  # four words at a quarter second each, twice as fast
    with _handle(client, "whisper-small") as asr:
        assert asr.transcriptions(audio) == {"text": "the quick brown fox"}
        verbose = asr.transcriptions(audio, language="en", response_format="verbose_json")
    assert (verbose["task"], verbose["language"], verbose["text"]) == ("transcribe", "en", "the quick brown fox")
    assert verbose["segments"][0]["end"] == verbose["duration"]


def test_speech_streams_in_chunks(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "ChatTTS") as tts:
        whole = tts.speech("a longer sentence to say out loud", response_format="wav")
        pieces = list(tts.speech("a longer sentence to say out loud", response_format="wav", stream=True))
    assert len(pieces) > 1 and b"".join(pieces) == whole
    body = {"model": "ChatTTS", "input": "one two three", "response_format": "pcm"}
    with httpx.Client() as http, http.stream("POST", fake.base_url + "/v1/audio/speech", json=body) as response:
        parts = list(response.iter_raw())
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-length"] == str(len(b"".join(parts)))
    with httpx.Client() as http, http.stream(
        "POST", fake.base_url + "/v1/audio/speech", json=body | {"stream": True}
    ) as response:
        assert response.headers["transfer-encoding"] == "chunked" and "content-length" not in response.headers
        assert len(list(response.iter_raw())) > 1


def test_speech_formats(client: Any) -> None:
    with _handle(client, "ChatTTS") as tts:
        mp3 = tts.speech("hello")  # the client's default format
        pcm = tts.speech("hello", response_format="pcm")
        with pytest.raises(RuntimeError, match=r"Unsupported audio format: opus$"):
            tts.speech("hello", response_format="opus")
    assert mp3[:2] == b"\xff\xfb" and len(mp3) % 417 == 0  # MPEG-1 Layer III frames
    assert len(pcm) % 2 == 0 and len(pcm) > SAMPLE_RATE // 4


def test_speech_with_a_prompt_speech_file_is_multipart(client: Any, fake: FakeXinference) -> None:
    prompt = bytes(range(256)) * 4
    with _handle(client, "ChatTTS") as tts:
        audio = tts.speech("clone me", response_format="wav", prompt_speech=prompt)
    assert transcribe(audio)[0] == "clone me"
    recorded = fake.requests[-1]
    parts = {p.name: p for p in parse_multipart(recorded.headers["content-type"], recorded.body)}
    assert parts["prompt_speech"].data == prompt and parts["input"].text == "clone me"


def test_transcriptions_upload_is_binary_safe(client: Any, fake: FakeXinference) -> None:
    noise = b"\x00\r\n--\xff\xfe\r\n\r\n" * 50 + bytes(range(256))
    with _handle(client, "whisper-small") as asr:
        assert asr.transcriptions(noise, prompt="context") == {"text": f"[unrecognized audio: {len(noise)} bytes]"}
        with pytest.raises(RuntimeError, match=r"Unsupported response format: srt$"):
            asr.transcriptions(noise, response_format="srt")
    recorded = fake.requests[-2]
    parts = {p.name: p for p in parse_multipart(recorded.headers["content-type"], recorded.body)}
    assert parts["file"].data == noise and parts["file"].filename == "file"
    assert {name: parts[name].text for name in ("model", "prompt", "response_format", "temperature", "kwargs")} == {
        "model": "whisper-small", "prompt": "context", "response_format": "json", "temperature": "0", "kwargs": "{}",
    }


def test_audio_routes_check_the_model(client: Any, fake: FakeXinference) -> None:
    with _handle(client, "whisper-small") as asr:
        with pytest.raises(RuntimeError, match=r"is not for creating speech\.$"):
            asr.speech("hello")
        asr._model_uid = "ChatTTS"
        with pytest.raises(RuntimeError, match=r"is not for creating transcriptions\.$"):
            asr.transcriptions(b"RIFF")
    missing = httpx.post(fake.base_url + "/v1/audio/transcriptions", data={"language": "en"})
    assert missing.status_code == 422
    assert missing.json() == {"detail": [
        {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None} for name in ("model", "file")
    ]}


# --- auth ---------------------------------------------------------------------------------------


def test_auth_only_when_an_api_key_is_set() -> None:
    with FakeXinference(api_key="xinf-key") as server:
        assert httpx.get(server.base_url + "/v1/cluster/auth").json() == {"auth": True}
        with closing(RESTfulClient(server.base_url, api_key="xinf-key")) as client:
            assert "bge-m3" in client.list_models()
            with _handle(client, "bge-reranker-v2-m3") as handle:
                assert handle.rerank(DOCUMENTS, QUERY)["results"][0]["index"] == 1
        assert server.requests[-1].headers["authorization"] == "Bearer xinf-key"
        with closing(RESTfulClient(server.base_url)) as anonymous, pytest.raises(RuntimeError) as missing:
            anonymous.list_models()
        assert str(missing.value) == "Failed to list model, detail: Not authenticated"
        with closing(RESTfulClient(server.base_url, api_key="wrong")) as wrong, pytest.raises(RuntimeError) as bad:
            wrong.list_models()
        assert str(bad.value) == "Failed to list model, detail: Could not validate credentials"
        response = httpx.get(server.base_url + "/v1/models/bge-m3", headers={"authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer scope="models:read"'


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (400, "Invalid input. Please specify the prompt."),
        (404, "Model not found in the model list, uid: fault-status-404"),
        (429, "Rate limit reached for the model. Request limit 1 for the model: fault-status-429"),
        (503, "Model is loading, please retry later: Model fault-status-503 is not ready yet"),
        (502, "Injected fault: HTTP 502"),
    ],
)
def test_fault_status(fake: FakeXinference, status: int, detail: str) -> None:
    model = f"fault-status-{status}"
    response = _post(fake, "/v1/rerank", {"model": model, "query": QUERY, "documents": DOCUMENTS})
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    if status == 503:
        assert response.headers["retry-after"] == "30"


def test_fault_status_as_the_sdks_see_it(client: Any, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="fault-status-429", messages=MESSAGES)
    assert limited.value.body == {
        "detail": "Rate limit reached for the model. Request limit 1 for the model: fault-status-429"
    }
    with pytest.raises(openai.InternalServerError) as crashed:
        sdk.embeddings.create(model="fault-status-500", input="x")
    body: Any = crashed.value.body
    assert re.fullmatch(ACTOR + r"Remote server \S+ closed", body["detail"])
    with _handle(client, "bge-reranker-v2-m3") as handle:
        handle._model_uid = "fault-status-429"
        with pytest.raises(RuntimeError, match=r"^Failed to rerank documents, detail: Rate limit reached"):
            handle.rerank(DOCUMENTS, QUERY)


def test_fault_garbage(fake: FakeXinference, sdk: openai.OpenAI) -> None:
    response = _post(fake, "/v1/rerank", {"model": "fault-garbage", "query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    result: Any = sdk.chat.completions.create(model="fault-garbage", messages=MESSAGES)
    assert result == "<html>502 Bad Gateway</html>"


def test_fault_stall(fake: FakeXinference) -> None:
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _post(fake, "/v1/rerank", {"model": "fault-stall-5", "query": QUERY, "documents": DOCUMENTS}, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert fake.wait_for_disconnect(timeout=5.0)
    quick = _post(fake, "/v1/rerank", {"model": "fault-stall-0.1", "query": QUERY, "documents": DOCUMENTS})
    assert quick.status_code == 200 and quick.json()["results"][0]["index"] == 1  # then served as a reranker


# --- harness ------------------------------------------------------------------------------------


def test_lifecycle_and_clear() -> None:
    server = FakeXinference(models={"only": "embedding"})
    with server as started:
        assert started is server and server.base_url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(server.base_url + "/v1/models").json()["data"][0]["id"] == "only"
        assert len(server.requests) == 1
        server.clear()
        assert server.requests == [] and server.disconnects == 0
        port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")
    with pytest.raises(ValueError, match="unsupported model type"):
        FakeXinference(models={"x": "image"})
