"""The embedded local provider end to end, with real inference: SmolLM2-135M-Instruct on llama.cpp, all-MiniLM-L6-v2
in numpy, espeak-ng. The gateway runs with networking made impossible (proxies pointing at a closed port,
``HF_HUB_OFFLINE=1``), which proves that nothing is downloaded; the official openai SDK is the client."""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GATEWAY_KEY
from tests.gateway import GatewayProcess, eventually
from tests.providers.local import OFFLINE

pytest.importorskip("llama_cpp", reason="the local extra is not installed (make test installs it)")

CHAT = "local/smollm2-135m-instruct"
EMBEDDING = "local/all-minilm-l6-v2"
PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: local
    provider: local
    credentials: {load: start, queue_size: "0", context_size: "2048"}
router: {retries: 0}
"""
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess(PROFILE, {"GATEWAY_KEY": GATEWAY_KEY, **OFFLINE}) as gw:
        yield gw


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=GATEWAY_KEY, max_retries=0)


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def ready(gateway: GatewayProcess) -> dict[str, Any]:
    details: dict[str, Any] = httpx.get(f"{gateway.url}/health/ready").json()["providers"]["local"]["details"]
    return details


def test_models_load_at_start_and_report_their_load_time(gateway: GatewayProcess) -> None:
    assert eventually(lambda: all(m["status"] == "loaded" for m in ready(gateway)["models"].values()), timeout=30)
    for model in ready(gateway)["models"].values():
        assert 0 < model["load_s"] < 30


def test_each_model_is_listed_once(client: openai.OpenAI) -> None:
    assert sorted(model.id for model in client.models.list()) == [
        "local/all-minilm-l6-v2", "local/espeak-ng", "local/smollm2-135m-instruct"]  # embeddings and rerank: one


def test_chat_answers_offline(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=CHAT, messages=user("What is the capital of France?"),
                                           temperature=0, max_tokens=40)
    content = reply.choices[0].message.content
    assert content and content.strip() and reply.model == "smollm2-135m-instruct"
    assert reply.usage is not None and reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 40


def test_chat_streams_token_by_token_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=CHAT, messages=user("Write one sentence about the sea."),
                                            temperature=0, max_tokens=30, stream=True,
                                            stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            finish = choice.finish_reason or finish
    assert len(pieces) >= 5 and "".join(pieces).strip()
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens == len(pieces) and usage.prompt_tokens > 5


def test_max_tokens_and_stop_are_honoured(client: openai.OpenAI) -> None:
    counting = user("Count from 1 to 10, separated by commas.")
    short = client.chat.completions.create(model=CHAT, messages=counting, temperature=0, max_tokens=3)
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 3
    stopped = client.chat.completions.create(model=CHAT, messages=counting, temperature=0, max_tokens=60, stop=["5"])
    content = stopped.choices[0].message.content or ""
    assert stopped.choices[0].finish_reason == "stop" and "4" in content and "5" not in content


def test_legacy_completion_continues_the_prompt(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=CHAT, prompt="1, 2, 3, 4,", temperature=0, max_tokens=8, stop=["8"])
    assert reply.choices[0].text.startswith(" 5, 6") and "8" not in reply.choices[0].text


def test_json_mode_gives_json(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=CHAT, messages=user("Describe a cat as JSON with a name and an age."),
                                           temperature=0, max_tokens=60, response_format={"type": "json_object"})
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_what_a_local_model_cannot_do_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=user("hi"), n=2)
    assert caught.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=user("hi " * 3000))
    assert caught.value.body["code"] == "context_length_exceeded"  # type: ignore[index]


def test_embeddings_have_384_dimensions_and_similar_sentences_score_higher(client: openai.OpenAI) -> None:
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."]
    reply = client.embeddings.create(model=EMBEDDING, input=texts)
    vectors = [item.embedding for item in reply.data]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in vectors)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > 0.7 > 0.2 > cosine(vectors[0], vectors[2])
    assert reply.usage.prompt_tokens > 10


def test_rerank_puts_the_relevant_document_first(gateway: GatewayProcess) -> None:
    documents = ["Bananas are rich in potassium.", "The Eiffel Tower is in Paris, the capital of France.",
                 "Cats sleep for most of the day.", "Python is a programming language."]
    reply = httpx.post(f"{gateway.base_url}/rerank", headers=AUTH, json={
        "model": EMBEDDING, "query": "Which city is the capital of France?", "documents": documents, "top_n": 2})
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["index"] for r in results][:1] == [1] and len(results) == 2
    assert results[0]["relevance_score"] > results[1]["relevance_score"]


def test_speech_is_a_wav_file(client: openai.OpenAI) -> None:
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make test installs it where apt-get runs as root)")
    audio = client.audio.speech.create(model="local/espeak-ng", voice="alloy", input="Hello from the gateway.",
                                       response_format="wav")
    with wave.open(io.BytesIO(audio.content)) as wav:
        assert wav.getframerate() == 22050 and wav.getnchannels() == 1
        assert wav.readframes(wav.getnframes()).strip(b"\0")  # not silence
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="local/espeak-ng", voice="alloy", input="hi", response_format="mp3")


def test_a_full_queue_is_a_clear_503_and_the_event_loop_stays_free(gateway: GatewayProcess,
                                                                    client: openai.OpenAI) -> None:
    # queue_size 0: while one generation runs, the next call to the model is refused at once.
    started, checked = threading.Event(), threading.Event()

    def generate() -> None:
        with client.chat.completions.create(model=CHAT, messages=user("Write a long story about a dragon."),
                                            temperature=0, max_tokens=2000, stream=True) as stream:
            for _ in stream:
                started.set()
                if checked.is_set():
                    break  # the client goes away: the generation stops and frees the model

    runner = threading.Thread(target=generate)
    runner.start()
    try:
        assert started.wait(30)
        began = time.monotonic()
        assert httpx.get(f"{gateway.url}/health/live").status_code == 200
        assert time.monotonic() - began < 1.0  # inference runs off the event loop (a generation takes seconds)
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=CHAT, messages=user("hi"), max_tokens=5)
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "local_queue_full"  # type: ignore[index]
        assert "busy" in caught.value.body["message"]  # type: ignore[index]
    finally:
        checked.set()
        runner.join(60)
    assert eventually(lambda: ready(gateway)["models"]["smollm2-135m-instruct"]["queued"] == 0, timeout=10)
    reply = client.chat.completions.create(model=CHAT, messages=user("hi"), max_tokens=5)
    assert reply.choices[0].message.content is not None
