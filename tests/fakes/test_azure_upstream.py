"""Proves `FakeAzureOpenAI` faithful: the official `openai.AzureOpenAI` client (deployment routes, `api-key`,
`api-version`) must parse all it sends, errors included."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes.azure_upstream import FILTER_TRIGGER, FakeAzureOpenAI

KEY = "azure-canary-key-77d1"
DEPLOYMENTS = {"chat4o": "gpt-4o-mini", "embed": "text-embedding-3-small", "talk": "tts-1"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAzureOpenAI]:
    with FakeAzureOpenAI(KEY, DEPLOYMENTS) as server:
        yield server


def azure(fake: FakeAzureOpenAI, key: str = KEY, version: str = "2024-10-21") -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=fake.base_url, api_key=key, api_version=version, max_retries=0)


def test_chat_by_deployment(fake: FakeAzureOpenAI) -> None:
    fake.clear()
    with azure(fake) as client:
        reply = client.chat.completions.create(model="chat4o", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "echo: Hi" and reply.model.startswith("gpt-4o-mini")
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/chat4o/chat/completions" and sent.query == "api-version=2024-10-21"
    assert sent.headers["api-key"] == KEY


def test_streaming_and_embeddings(fake: FakeAzureOpenAI) -> None:
    with azure(fake) as client:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            model="chat4o", messages=[{"role": "user", "content": "Count"}], stream=True) if chunk.choices)
        vectors = client.embeddings.create(model="embed", input=["a", "b"])
    assert text == "echo: Count"
    assert len(vectors.data) == 2


def test_stream_usage_is_taken_since_2024_09_01_preview(fake: FakeAzureOpenAI) -> None:
    ask: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Count"}]
    with azure(fake) as client:
        chunks = list(client.chat.completions.create(model="chat4o", messages=ask, stream=True,
                                                     stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2 and not chunks[-1].choices
    with azure(fake, version="2024-06-01") as client, pytest.raises(openai.BadRequestError) as old:
        client.chat.completions.create(model="chat4o", messages=ask, stream=True,
                                       stream_options={"include_usage": True})
    assert old.value.body == {"message": "Unrecognized request argument supplied: stream_options",
                              "type": "invalid_request_error", "param": None, "code": None}
    with azure(fake, version="2024-06-01") as client:
        chunks = list(client.chat.completions.create(model="chat4o", messages=ask, stream=True))
    assert chunks and all(c.usage is None for c in chunks)


def test_speech_by_deployment(fake: FakeAzureOpenAI) -> None:
    with azure(fake) as client:
        speech = client.audio.speech.create(model="talk", voice="alloy", input="Hello", response_format="wav")
    assert speech.content[:4] == b"RIFF"


def test_the_versionless_v1_api(fake: FakeAzureOpenAI) -> None:
    with openai.OpenAI(base_url=fake.base_url + "/openai/v1", api_key=KEY, max_retries=0,
                       default_headers={"api-key": KEY}) as client:
        reply = client.chat.completions.create(model="chat4o", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "echo: Hi"


def test_azure_errors_as_the_sdk_sees_them(fake: FakeAzureOpenAI) -> None:
    hello = [{"role": "user", "content": "x"}]
    with azure(fake, key="wrong") as client, pytest.raises(openai.AuthenticationError) as denied:
        client.chat.completions.create(model="chat4o", messages=hello)  # type: ignore[arg-type]
    assert "invalid subscription key" in denied.value.message
    with azure(fake) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="nope", messages=hello)  # type: ignore[arg-type]
        assert missing.value.code == "DeploymentNotFound"
        with pytest.raises(openai.BadRequestError) as filtered:
            client.chat.completions.create(model="chat4o",
                                           messages=[{"role": "user", "content": f"Tell me about {FILTER_TRIGGER}"}])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="fault-status-429", messages=hello)  # type: ignore[arg-type]
    assert filtered.value.code == "content_filter" and filtered.value.param == "prompt"
    body = filtered.value.body
    assert isinstance(body, dict) and body["innererror"]["content_filter_result"]["violence"]["filtered"] is True
    with azure(fake, version="1999-01-01") as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="chat4o", messages=hello)  # type: ignore[arg-type]
    no_version = httpx.post(fake.base_url + "/openai/deployments/chat4o/chat/completions", headers={"api-key": KEY},
                            json={"messages": hello})
    assert no_version.status_code == 404 and no_version.json() == {"error": {"code": "404",
                                                                             "message": "Resource not found"}}
