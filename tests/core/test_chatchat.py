"""Chatchat's model_providers.yaml read as a profile: instances per provider key, mistakes as written there."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.profile import LoadedProfile, ProfileError, load_profile
from core.router import Router
from core.schema import ModelType

CHATCHAT = """\
openai:
  model_credential:
    - model: 'gpt-3.5-turbo'
      model_type: 'text-generation'
      model_credentials:
        openai_api_key: '${OPENAI_KEY}'
        openai_organization: ''
        openai_api_base: 'https://proxy.example.com'
  provider_credential:
    openai_api_key: '${OPENAI_KEY}'
    openai_organization: ''
    openai_api_base: 'https://proxy.example.com'
openai_api_compatible:
  model_credential:
    - model: 'qwen2.5-7b'
      model_type: 'llm'
      model_credentials: {endpoint_url: 'http://127.0.0.1:8001/v1', mode: chat, context_size: '32768'}
    - model: 'bge-m3'
      model_type: 'embeddings'
      model_credentials: {endpoint_url: 'http://127.0.0.1:8002/v1'}
    - model: 'qwen2.5-coder'
      model_type: 'llm'
      model_credentials: {endpoint_url: 'http://127.0.0.1:8001/v1'}
    - model: 'skipped-without-credentials'
      model_type: 'llm'
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> LoadedProfile:
    path = tmp_path / "model_providers.yaml"
    path.write_text(text)
    return load_profile(path, env if env is not None else {"OPENAI_KEY": "sk-chatchat-0123456789abcdef"})


def test_provider_keys_become_instances(tmp_path: Path) -> None:
    loaded = load(tmp_path, CHATCHAT)
    assert list(loaded.instances) == ["openai", "openai_api_compatible", "openai_api_compatible-2"]
    openai = loaded.instances["openai"]
    assert openai.credentials["api_key"] == "sk-chatchat-0123456789abcdef"
    assert openai.credentials["base_url"] == "https://proxy.example.com/v1"  # Dify's base has no /v1
    assert "gpt-4o" in openai.models[ModelType.LLM]  # a provider credential enables the predefined models
    first, second = loaded.instances["openai_api_compatible"], loaded.instances["openai_api_compatible-2"]
    assert first.plugin.id == second.plugin.id == "openai_compatible"
    assert (first.group, second.group) == ("openai_api_compatible", "openai_api_compatible")
    assert first.credentials["base_url"] == "http://127.0.0.1:8001/v1"
    assert set(first.models[ModelType.LLM]) == {"qwen2.5-7b", "qwen2.5-coder"}  # same endpoint, same instance
    assert list(second.models[ModelType.TEXT_EMBEDDING]) == ["bge-m3"]
    qwen = first.models[ModelType.LLM]["qwen2.5-7b"]
    assert qwen.schema is not None and qwen.schema.context_size == 32768  # mode is Dify-only and dropped


@pytest.mark.parametrize(("edit", "message"), [
    (("openai_api_compatible:", "baichuan:"), ":13: baichuan: unknown provider 'baichuan'"),
    (("    openai_api_key: '${OPENAI_KEY}'\n    openai_org", "    openai_api_kee: 'x'\n    openai_org"),
     ":10: openai.provider_credential.openai_api_kee: unknown credential"),
    (("context_size: '32768'", "context_size: 'big'"),
     ":17: openai_api_compatible.model_credential[0].model_credentials.context_size: must be a whole number"),
    (("model_type: 'embeddings'", "model_type: 'poems'"),
     ":19: openai_api_compatible.model_credential[1].model_type: invalid value 'poems'"),
])
def test_mistakes_are_reported_as_written_in_the_chatchat_file(tmp_path: Path, edit: tuple[str, str],
                                                               message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load(tmp_path, CHATCHAT.replace(*edit))
    assert message in str(caught.value), str(caught.value)


def test_missing_variable_names_the_chatchat_key(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r":6: openai\.model_credential\[0\]\.model_credentials\.openai_api_key: "
                                           "environment variable OPENAI_KEY is not set"):
        load(tmp_path, CHATCHAT, env={})


def test_a_model_entry_with_its_own_key_wins_for_that_model(tmp_path: Path) -> None:
    loaded = load(tmp_path, """\
openai:
  provider_credential: {openai_api_key: sk-shared-0000000000000000}
  model_credential:
    - {model: gpt-4o-mini, model_type: llm, model_credentials: {openai_api_key: sk-own-1111111111111111}}
""")
    router = Router(loaded)
    for deployment in [router.resolve_in("openai", "gpt-4o-mini", ModelType.LLM)[0],
                       router.resolve("gpt-4o-mini", ModelType.LLM)[0]]:
        assert deployment.instance.name == "openai-2"
        assert deployment.instance.credentials["api_key"] == "sk-own-1111111111111111"
    assert router.resolve_in("openai", "gpt-4o", ModelType.LLM)[0].instance.name == "openai"


@pytest.mark.parametrize(("text", "message"), [
    ("openai:\n  model_credential: {model: a}\n",
     ":2: openai.model_credential: expected a list"),
    ("openai_api_compatible:\n  model_credential:\n"
     "    - {model: a, model_type: llm, model_credentials: {endpoint_url: 'http://h/v1'}}\n"
     "    - {model: a, model_type: llm, model_credentials: {endpoint_url: 'http://h/v1'}}\n",
     ":4: openai_api_compatible.model_credential[1].model: model 'a' (llm) is listed twice"),
    ("openai: {provider_credential: {openai_api_key: k}}\n5: {provider_credential: {}}\n",
     ":2: [5]: unknown provider '5'"),
])
def test_malformed_chatchat_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load(tmp_path, text)
    assert message in str(caught.value), str(caught.value)


def test_chatchat_xinference_models_keep_their_uids(tmp_path: Path) -> None:
    text = """\
xinference:
  model_credential:
    - model: 'glm4-chat'
      model_type: 'llm'
      model_credentials: {server_url: 'http://127.0.0.1:9997/', model_uid: 'glm4-chat-uid'}
    - model: 'bge-reranker-v2-m3'
      model_type: 'reranking'
      model_credentials: {server_url: 'http://127.0.0.1:9997/', model_uid: 'bge-reranker-v2-m3'}
"""
    instance = load(tmp_path, text).instances["xinference"]
    assert instance.plugin.id == "xinference" and instance.credentials["server_url"] == "http://127.0.0.1:9997/"
    assert instance.models[ModelType.LLM]["glm4-chat"].credentials["model_uid"] == "glm4-chat-uid"
    assert list(instance.models[ModelType.RERANK]) == ["bge-reranker-v2-m3"]
