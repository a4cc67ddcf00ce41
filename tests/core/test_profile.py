"""The profile loader: environment substitution, defaults, and every kind of mistake reported as file:line: key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.profile import LoadedProfile, ProfileError, load_profile
from core.registry import Registry
from core.schema import ModelType

ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> LoadedProfile:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_profile(path, env or {})


def errors(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        load(tmp_path, text, env)
    return [str(e).replace(str(tmp_path / "p.yaml"), "p.yaml") for e in caught.value.errors]


def test_default_profile_loads_with_no_environment() -> None:
    loaded = load_profile(ROOT / "profiles" / "default.yaml", {})
    assert loaded.profile.server.port == 8000 and loaded.profile.server.api_keys == [""]
    assert loaded.instances["openai"].not_configured == "set OPENAI_API_KEY"
    assert loaded.instances["localhost"].not_configured is None
    assert loaded.instances["localhost"].credentials["base_url"] == "http://127.0.0.1:11434/v1"
    assert loaded.instances["local"].plugin.id == "local" and loaded.instances["local"].credentials["load"] == "lazy"


def test_environment_substitution_and_defaults(tmp_path: Path) -> None:
    loaded = load(tmp_path, """
server: {port: "${PORT:-9001}", api_keys: ["${K1}", "pre-${K2:-x}-post"]}
providers:
  - provider: openai_compatible
    credentials: {base_url: "${URL}"}
""", {"K1": "secret-one", "URL": "http://h:1/v1"})
    assert loaded.profile.server.port == 9001
    assert loaded.profile.server.api_keys == ["secret-one", "pre-x-post"]
    spec = loaded.instances["openai_compatible"]  # the instance name defaults to the provider id
    assert spec.credentials == {"base_url": "http://h:1/v1"}
    assert spec.any_model and spec.target(ModelType.LLM, "whatever") is not None


def test_unset_variable_without_default_is_an_error(tmp_path: Path) -> None:
    assert errors(tmp_path, "server:\n  api_keys: [\"${NOPE}\"]\n") == [
        "p.yaml:2: server.api_keys[0]: environment variable NOPE is not set (write ${NOPE:-} to allow empty)"]


def test_empty_required_credential_means_not_configured(tmp_path: Path) -> None:
    loaded = load(tmp_path, "providers:\n  - {provider: openai, credentials: {api_key: '${OPENAI_API_KEY:-}'}}\n")
    assert loaded.instances["openai"].not_configured == "set OPENAI_API_KEY"
    literal = load(tmp_path, "providers:\n  - {provider: openai, credentials: {api_key: ''}}\n")
    assert literal.instances["openai"].not_configured == "set providers[0].credentials.api_key in the profile"
    assert literal.instances["openai"].credential_hint == "providers[0].credentials in the profile"  # no path


def test_predefined_models_and_customizable_entries(tmp_path: Path) -> None:
    loaded = load(tmp_path, """
providers:
  - provider: openai
    credentials: {api_key: k}
    models: [gpt-4o-mini, {model: my-finetune, model_type: llm}]
""")
    spec = loaded.instances["openai"]
    assert set(spec.models[ModelType.LLM]) == {"gpt-4o-mini", "my-finetune"}
    assert not spec.any_model and spec.target(ModelType.LLM, "gpt-4o") is None
    assert ModelType.TEXT_EMBEDDING not in spec.models


def test_chatchat_model_type_aliases(tmp_path: Path) -> None:
    loaded = load(tmp_path, """
providers:
  - provider: openai_compatible
    credentials: {base_url: "http://x/v1"}
    models: [{model: e, model_type: embeddings}, {model: c, model_type: text-generation}]
""")
    assert set(loaded.instances["openai_compatible"].models) == {ModelType.TEXT_EMBEDDING, ModelType.LLM}


@pytest.mark.parametrize(("text", "expected"), [
    ("server: [1]\n", "p.yaml:1: server: expected object, got array"),
    ("server:\n  prot: 1\n", "p.yaml:2: server.prot: unknown key"),
    ("server:\n  port: 70000\n", "p.yaml:2: server.port: expected int <= 65535"),
    ("providers:\n  - name: x\n", "p.yaml:2: providers[0].provider: required key is missing"),
    ("providers:\n  - provider: openai\n    credentials: {api_key: k}\n    models: [{model: m, model_type: rerank}]\n",
     "p.yaml:4: providers[0].models[0].model_type: provider 'openai' supports only: llm, text-embedding, "
     "speech2text, tts, moderation"),
    ("providers:\n  - provider: openai\n    credentials: {api_key: k}\n    models: [{model: m, model_type: x}]\n",
     "p.yaml:4: providers[0].models[0].model_type: invalid value 'x'"),
    ("routes:\n  - model: r\n    deployments: []\n", "p.yaml:3: routes[0].deployments: expected array of length >= 1"),
    ("a: [1\n", "p.yaml:2: invalid YAML: did not find expected ',' or ']'"),  # libyaml's wording
    ("a: 1\na: 2\n", "p.yaml:2: a: duplicate key"),
    ("- 1\n", "p.yaml:1: a profile is a mapping (server, providers, routes, ...)"),
    ("state: postgres://x\n", "p.yaml:1: state: must be 'memory' or a redis:// URL"),
    ("providers:\n  - provider: openai_compatible\n    credentials:\n      base_url: localhost:8000\n",
     "p.yaml:4: providers[0].credentials.base_url: must be an http:// or https:// URL"),
    ("providers:\n  - provider: openai_compatible\n    name: workspaces\n    credentials: {base_url: 'http://h'}\n",
     "p.yaml:3: providers[0].name: 'workspaces' is reserved: /workspaces/v1/... would clash with the gateway's "
     "own routes"),
])
def test_mistakes_are_located(tmp_path: Path, text: str, expected: str) -> None:
    assert errors(tmp_path, text) == [expected]


def test_all_semantic_mistakes_are_reported_at_once(tmp_path: Path) -> None:
    assert errors(tmp_path, """
providers:
  - provider: anthropicx
  - provider: openai
    credentials:
      api_kee: x
    models: [gpt-9]
  - name: bad/name
    provider: openai_compatible
    credentials: {base_url: "http://x/v1"}
  - provider: openai_compatible
    name: openai
    credentials: {base_url: "http://x/v1"}
routes:
  - model: chat
    deployments: [{target: nope/x}, {target: openai/gpt-4o, weight: 2}]
    fallbacks: [openai]
""") == [
        "p.yaml:3: providers[0].provider: unknown provider 'anthropicx' (known: "
        f"{', '.join(sorted(Registry.discover().plugins))})",
        "p.yaml:6: providers[1].credentials.api_kee: unknown credential (known: api_key, base_url, organization)",
        "p.yaml:5: providers[1].credentials.api_key: required by provider 'openai'",
        "p.yaml:7: providers[1].models[0]: 'gpt-9' is not a predefined model of provider 'openai'; declare it as "
        "{model: gpt-9, model_type: llm} to use it as a customizable model",
        "p.yaml:8: providers[2].name: must be letters, digits, '_', '.' or '-' (it is used in model ids)",
        "p.yaml:12: providers[3].name: instance name 'openai' is used twice",
        "p.yaml:16: routes[0].deployments[0].target: 'nope/x' is not <instance>/<model> with a provider "
        "instance of this profile",
        "p.yaml:17: routes[0].fallbacks[0]: 'openai' is not <instance>/<model> with a provider instance of this "
        "profile",
    ]


def test_weights_must_be_positive(tmp_path: Path) -> None:
    text = "routes:\n  - model: r\n    deployments:\n      - {target: a/b, weight: 0}\n"
    assert errors(tmp_path, text) == ["p.yaml:4: routes[0].deployments[0].weight: expected float > 0.0"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"nope\.yaml: cannot read: No such file or directory"):
        load_profile(tmp_path / "nope.yaml", {})


def test_example_profile_from_the_readme_loads() -> None:
    loaded = load_profile(ROOT / "profiles" / "example.yaml", {"OPENAI_API_KEY": "sk-x"})
    assert loaded.profile.routes[0].deployments[1].target == "vllm/Qwen/Qwen2.5-7B-Instruct"
    assert set(loaded.instances["vllm"].models) == {ModelType.LLM, ModelType.TEXT_EMBEDDING}
    readme = (ROOT / "README.md").read_text()
    assert (ROOT / "profiles" / "example.yaml").read_text().split("\n", 1)[1] in readme
