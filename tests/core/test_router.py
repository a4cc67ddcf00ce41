"""Model name resolution: route aliases by weight, <instance>/<model>, bare names, and the errors."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

import core.router
from core.errors import InvalidRequestError, ModelNotFoundError, ProviderNotConfiguredError
from core.profile import ProfileError, load_profile
from core.router import Found, Router
from core.schema import ModelType

PROFILE = """
providers:
  - {name: a, provider: openai, credentials: {api_key: k}, models: [gpt-4o-mini, text-embedding-3-small]}
  - {name: b, provider: openai, credentials: {api_key: k}, models: [gpt-4o-mini, gpt-4o]}
  - {name: local, provider: openai_compatible, credentials: {base_url: "http://x/v1"}}
  - {name: dormant, provider: openai, credentials: {api_key: ""}, models: [gpt-4o-mini, gpt-4.1]}
routes:
  - model: chat
    deployments:
      - {target: a/gpt-4o-mini, weight: 3}
      - {target: b/gpt-4o, weight: 1}
      - {target: dormant/gpt-4o-mini}
  - model: vectors
    deployments: [{target: a/text-embedding-3-small}, {target: local/emb}]
  - model: local-chat
    model_type: text-generation
    deployments: [{target: local/llama3}]
  - model: dark
    deployments: [{target: dormant/gpt-4.1}]
"""


def load(tmp_path: Path, text: str) -> Router:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return Router(load_profile(path, {}), rng=random.Random(1234))


@pytest.fixture
def router(tmp_path: Path) -> Router:
    return load(tmp_path, PROFILE)


def test_weighted_choice_follows_weights(router: Router) -> None:
    firsts = Counter(router.resolve("chat", ModelType.LLM)[0].id for _ in range(4000))
    assert set(firsts) == {"a/gpt-4o-mini", "b/gpt-4o"}
    assert 2.6 < firsts["a/gpt-4o-mini"] / firsts["b/gpt-4o"] < 3.4
    # The others follow the chosen one, so later retries and fallbacks have somewhere to go.
    assert len(router.resolve("chat", ModelType.LLM)) == 2


def test_route_has_one_model_type(router: Router) -> None:
    assert sorted(d.id for d in router.resolve("vectors", ModelType.TEXT_EMBEDDING)) == [
        "a/text-embedding-3-small", "local/emb"]  # the type comes from the model the instance knows
    assert router.resolve("local-chat", ModelType.LLM)[0].target.model_type == ModelType.LLM  # declared (alias)
    with pytest.raises(InvalidRequestError, match="'vectors' is a text-embedding model, this endpoint needs a llm"):
        router.resolve("vectors", ModelType.LLM)  # even though local/emb would pass any name through
    with pytest.raises(InvalidRequestError, match="'chat' is a llm model"):
        router.resolve("chat", ModelType.TEXT_EMBEDDING)


def test_deployments_on_unconfigured_instances_are_skipped(router: Router) -> None:
    assert all(not router.resolve("chat", ModelType.LLM)[0].id.startswith("dormant/") for _ in range(200))
    with pytest.raises(ProviderNotConfiguredError, match=r"route 'dark'.*instance 'dormant'"):
        router.resolve("dark", ModelType.LLM)
    assert router.find("dark") is None and "dark" not in {name for name, _, _ in router.listed()}


@pytest.mark.parametrize(("routes", "message"), [
    ("- {model: m, deployments: [{target: a/gpt-4o-mini}, {target: a/text-embedding-3-small}]}",
     "routes[0].model: route 'm' mixes llm and text-embedding models"),
    ("- {model: m, deployments: [{target: local/x}]}",
     "routes[0].model: cannot tell the model type of route 'm'"),
    ("- {model: m, model_type: llm, deployments: [{target: a/text-embedding-3-small}]}",
     "routes[0].deployments[0].target: 'a/text-embedding-3-small' is a text-embedding model, route 'm' serves llm"),
])
def test_route_type_mistakes_fail_at_load(tmp_path: Path, routes: str, message: str) -> None:
    providers = PROFILE.split("routes:")[0]
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(tmp_path, f"{providers}routes:\n  {routes}\n")


def test_instance_slash_model(router: Router) -> None:
    assert router.resolve("b/gpt-4o", ModelType.LLM)[0].target.name == "gpt-4o"
    assert router.resolve("local/org/model:7b", ModelType.LLM)[0].target.name == "org/model:7b"
    for name in ["a/gpt-4o", "local/", "nowhere/gpt-4o"]:  # not enabled on a; no model; no such instance
        with pytest.raises(ModelNotFoundError):
            router.resolve(name, ModelType.LLM)
    with pytest.raises(InvalidRequestError, match="is a llm model"):
        router.resolve("a/gpt-4o-mini", ModelType.TEXT_EMBEDDING)


def test_instance_slash_model_names_are_resolved_once_and_remembered_within_bounds(
        router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    first = router.resolve("local/llama3", ModelType.LLM)
    assert router.resolve("local/llama3", ModelType.LLM) == first and first[0].id == "local/llama3"
    assert router.resolve("local/llama3", ModelType.TEXT_EMBEDDING)[0].target.model_type is ModelType.TEXT_EMBEDDING
    with pytest.raises(InvalidRequestError, match="is a llm model"):  # the type still checked: not remembered
        router.resolve("a/gpt-4o-mini", ModelType.TEXT_EMBEDDING)
    monkeypatch.setattr(core.router, "_NAMED_CACHE", 8)
    for i in range(20):  # clients' names: the memory stays bounded
        assert router.resolve(f"local/m{i}", ModelType.LLM)[0].target.name == f"m{i}"
        assert len(router._named) <= 8


def test_bare_name_takes_the_first_configured_instance_in_profile_order(tmp_path: Path, router: Router) -> None:
    assert router.resolve("gpt-4o-mini", ModelType.LLM)[0].id == "a/gpt-4o-mini"
    assert router.resolve("gpt-4o", ModelType.LLM)[0].id == "b/gpt-4o"
    assert router.resolve("gpt-4.1", ModelType.LLM)[0].id == "dormant/gpt-4.1"  # only there: its call answers 503
    unconfigured_first = load(tmp_path, PROFILE.replace(
        "  - {name: dormant", "  - {name: dormant0, provider: openai, credentials: {api_key: ''}}\n  - {name: dormant"))
    assert unconfigured_first.resolve("gpt-4o-mini", ModelType.LLM)[0].id == "a/gpt-4o-mini"
    with pytest.raises(ModelNotFoundError, match="GET /v1/models"):
        router.resolve("unknown-model", ModelType.LLM)


def test_listed_and_owner_agree(router: Router) -> None:
    listed = {name: owner for name, owner, _ in router.listed()}
    types = {name: model_type for name, _, model_type in router.listed()}
    assert list(listed)[:3] == ["chat", "vectors", "local-chat"]
    assert types["chat"] == ModelType.LLM and types["a/text-embedding-3-small"] == ModelType.TEXT_EMBEDDING
    assert listed["b/gpt-4o"] == "openai" and listed["a/text-embedding-3-small"] == "openai"
    assert not any(name.startswith("dormant/") for name in listed)
    for name, owner in listed.items():
        found = router.find(name)
        assert found is not None and found.owner == owner
    gpt_4o = router.resolve("gpt-4o", ModelType.LLM)[0].target.schema
    assert gpt_4o is not None and router.find("gpt-4o") == Found("openai", ModelType.LLM, gpt_4o)
    assert router.find("local/anything") == Found("openai_compatible")
    assert router.find("vectors") == Found("model-runtime", ModelType.TEXT_EMBEDDING)
    for name in ["dormant/gpt-4o-mini", "gpt-4.1", "a/gpt-4o", "local/", "nope", "nowhere/x"]:
        assert router.find(name) is None, name


def test_least_busy_and_fastest_strategies(tmp_path: Path) -> None:
    text = PROFILE + """\
  - {model: calm, strategy: least-busy, deployments: [{target: a/gpt-4o-mini}, {target: b/gpt-4o-mini}]}
  - {model: quick, strategy: fastest, deployments: [{target: a/gpt-4o-mini}, {target: b/gpt-4o}]}
"""
    router = load(tmp_path, text)
    router.stats.began("a/gpt-4o-mini")
    assert all(router.resolve("calm", ModelType.LLM)[0].id == "b/gpt-4o-mini" for _ in range(20))
    router.stats.ended("a/gpt-4o-mini", 0.5)
    router.stats.began("b/gpt-4o-mini")
    assert router.resolve("calm", ModelType.LLM)[0].id == "a/gpt-4o-mini"
    assert router.resolve("quick", ModelType.LLM)[0].id == "b/gpt-4o"  # never measured: tried first
    router.stats.ended("b/gpt-4o", 2.0)
    assert router.resolve("quick", ModelType.LLM)[0].id == "a/gpt-4o-mini"  # 0.5 s beats 2.0 s
    for _ in range(10):
        router.stats.ended("a/gpt-4o-mini", 4.0)  # it slowed down
    assert router.resolve("quick", ModelType.LLM)[0].id == "b/gpt-4o"


def test_a_route_to_an_instance_without_its_model_type_fails_at_load(tmp_path: Path) -> None:
    text = """
providers:
  - {name: any, provider: openai, credentials: {api_key: k}, models: ["*"]}
routes:
  - {model: m, model_type: rerank, deployments: [{target: any/some-reranker}]}
"""
    with pytest.raises(ProfileError, match=r"routes\[0\].deployments\[0\].target: provider instance 'any' does not "
                                           "serve rerank models"):
        load(tmp_path, text)
