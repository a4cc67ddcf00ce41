"""Model name resolution: route aliases by weight, <instance>/<model>, bare names, and the errors."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from core.errors import InvalidRequestError, ModelNotFoundError
from core.profile import load_profile
from core.router import Router
from core.schema import ModelType

PROFILE = """
providers:
  - {name: a, provider: openai, credentials: {api_key: k}, models: [gpt-4o-mini, text-embedding-3-small]}
  - {name: b, provider: openai, credentials: {api_key: k}, models: [gpt-4o-mini, gpt-4o]}
  - {name: local, provider: openai_compatible, credentials: {base_url: "http://x/v1"}}
routes:
  - model: chat
    deployments: [{target: a/gpt-4o-mini, weight: 3}, {target: b/gpt-4o, weight: 1}]
  - model: mixed
    deployments: [{target: a/text-embedding-3-small}, {target: local/emb}]
"""


@pytest.fixture
def router(tmp_path: Path) -> Router:
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE)
    return Router(load_profile(path, {}), rng=random.Random(1234))


def test_weighted_choice_follows_weights(router: Router) -> None:
    firsts = Counter(router.resolve("chat", ModelType.LLM)[0].id for _ in range(4000))
    assert set(firsts) == {"a/gpt-4o-mini", "b/gpt-4o"}
    assert 2.6 < firsts["a/gpt-4o-mini"] / firsts["b/gpt-4o"] < 3.4
    # The others follow the chosen one, so later retries and fallbacks have somewhere to go.
    assert len(router.resolve("chat", ModelType.LLM)) == 2


def test_route_keeps_only_deployments_of_the_requested_type(router: Router) -> None:
    assert [d.id for d in router.resolve("mixed", ModelType.TEXT_EMBEDDING)] in (
        ["a/text-embedding-3-small", "local/emb"], ["local/emb", "a/text-embedding-3-small"])
    assert [d.id for d in router.resolve("mixed", ModelType.LLM)] == ["local/emb"]  # passes any name through
    with pytest.raises(InvalidRequestError, match="route 'chat' serves no text-embedding model"):
        router.resolve("chat", ModelType.TEXT_EMBEDDING)


def test_instance_slash_model(router: Router) -> None:
    assert router.resolve("b/gpt-4o", ModelType.LLM)[0].target.name == "gpt-4o"
    assert router.resolve("local/org/model:7b", ModelType.LLM)[0].target.name == "org/model:7b"
    with pytest.raises(ModelNotFoundError):
        router.resolve("a/gpt-4o", ModelType.LLM)  # not enabled on a
    with pytest.raises(InvalidRequestError, match="is a llm model"):
        router.resolve("a/gpt-4o-mini", ModelType.TEXT_EMBEDDING)


def test_bare_name_takes_the_first_instance_in_profile_order(router: Router) -> None:
    assert router.resolve("gpt-4o-mini", ModelType.LLM)[0].id == "a/gpt-4o-mini"
    assert router.resolve("gpt-4o", ModelType.LLM)[0].id == "b/gpt-4o"
    with pytest.raises(ModelNotFoundError, match="GET /v1/models"):
        router.resolve("unknown-model", ModelType.LLM)


def test_listed(router: Router) -> None:
    listed = list(router.listed())
    assert listed[:2] == [("chat", "model-runtime"), ("mixed", "model-runtime")]
    assert ("b/gpt-4o", "openai") in listed and ("a/text-embedding-3-small", "openai") in listed
