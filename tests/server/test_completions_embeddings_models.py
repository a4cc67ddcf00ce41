"""Legacy completions, embeddings (float and base64, batches) and the model list, through the SDK."""

from __future__ import annotations

import base64
import math
import struct
import time
from importlib.metadata import version

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess


def test_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="up/gpt-3.5-turbo-instruct", prompt="say this")
    assert reply.choices[0].text == "echo: say this" and reply.choices[0].finish_reason == "stop"
    batch = client.completions.create(model="up/gpt-3.5-turbo-instruct", prompt=["a", "b c"], max_tokens=2)
    assert [c.text for c in batch.choices] == ["echo: a", "echo: b"]
    assert [c.finish_reason for c in batch.choices] == ["stop", "length"]


def test_completions_stream(client: openai.OpenAI) -> None:
    chunks = list(client.completions.create(model="up/x", prompt="one two three", stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


async def test_completions_async(aclient: openai.AsyncOpenAI) -> None:
    async with aclient:
        reply = await aclient.completions.create(model="up/x", prompt="async prompt")
    assert reply.choices[0].text == "echo: async prompt"


def test_embeddings_batch_keeps_one_vector_per_input(client: openai.OpenAI) -> None:
    texts = ["alpha", "beta", "gamma"]
    reply = client.embeddings.create(model="embed", input=texts)
    assert [d.index for d in reply.data] == [0, 1, 2]
    vectors = [d.embedding for d in reply.data]
    assert len({tuple(v) for v in vectors}) == 3
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    single = client.embeddings.create(model="embed", input="beta")
    assert single.data[0].embedding == vectors[1]


def test_embeddings_base64_and_dimensions(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    floats = client.embeddings.create(model="openai/text-embedding-3-small", input=["x", "y"], dimensions=16,
                                      encoding_format="float")
    assert len(floats.data[0].embedding) == 16
    as_float32 = [[struct.unpack("<f", struct.pack("<f", x))[0] for x in d.embedding] for d in floats.data]
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    upstream.clear()
    decoded = client.embeddings.create(model="openai/text-embedding-3-small", input=["x", "y"], dimensions=16)
    assert upstream.requests[-1].json()["encoding_format"] == "base64"
    assert [d.embedding for d in decoded.data] == as_float32
    # Asked for explicitly, base64 passes through untouched.
    raw = client.embeddings.create(model="embed", input=["x", "y"], dimensions=16, encoding_format="base64")
    blobs = [base64.b64decode(str(d.embedding)) for d in raw.data]
    assert [list(struct.unpack(f"<{len(b) // 4}f", b)) for b in blobs] == as_float32


async def test_embeddings_async_token_ids(aclient: openai.AsyncOpenAI) -> None:
    async with aclient:
        reply = await aclient.embeddings.create(model="embed", input=[[1, 2, 3], [4, 5]])
    assert len(reply.data) == 2


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    listed = list(client.models.list())
    ids = [m.id for m in listed]
    assert ids[:2] == ["chat", "embed"]
    kinds = {m.id: (m.model_extra or {}).get("model_type") for m in listed}  # ours, beside OpenAI's fields
    assert kinds["chat"] == "llm" and kinds["embed"] == "text-embedding"
    assert kinds["openai/text-embedding-3-small"] == "text-embedding" and kinds["openai/gpt-4o-mini"] == "llm"
    assert "openai/gpt-4o-mini" in ids and "openai/text-embedding-3-small" in ids
    assert not any(i.startswith("unconfigured/") for i in ids)  # not configured: not offered
    assert client.models.retrieve("openai/gpt-4o-mini").owned_by == "openai"
    assert client.models.retrieve("chat").owned_by == "model-runtime"
    assert client.models.retrieve("up/any-name:7b").owned_by == "openai_compatible"  # passes names through
    for model in ["unconfigured/gpt-4o-mini", "openai/gpt-4o", "nope"]:  # could not be served: 404
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(model)


def test_health(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.url}/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/health/ready").json()
    assert ready["status"] == "ready" and ready["version"] == version("model-runtime")
    assert time.time() - 600 < ready["profile_loaded_at"] <= time.time()  # loaded by this test session
    assert ready["providers"]["up"] == {"provider": "openai_compatible", "status": "ok"}
    assert ready["providers"]["unconfigured"] == {"provider": "openai", "status": "not_configured",
                                                  "reason": "set UNSET_TEST_OPENAI_KEY"}


def test_openapi_schema_is_served(gateway: GatewayProcess) -> None:
    schema = httpx.get(f"{gateway.url}/schema/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]


def test_embedding_parameter_rules(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="openai/text-embedding-3-small", input="x", dimensions=4096)
    assert caught.value.param == "dimensions" and "at most 1536" in caught.value.message
