"""Every provider plug-in's YAML loads, and predefined models carry what the catalogue promises."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import pytest

from core.model_types import Provider
from core.registry import Registry, load_plugin
from core.schema import ModelType
from core.yamlfile import ConfigError

REGISTRY = Registry.discover()


def test_plugins_are_found_in_position_order() -> None:
    assert list(REGISTRY.plugins)[:2] == ["openai", "openai_compatible"]


@pytest.mark.parametrize("provider_id", list(REGISTRY.plugins))
def test_plugin_code_and_icons(provider_id: str) -> None:
    plugin = REGISTRY[provider_id]
    assert issubclass(plugin.provider_class(), Provider)
    for icon in (plugin.schema.icon_small, plugin.schema.icon_large):
        assert icon is not None
        xml.dom.minidom.parse(str(plugin.directory / "icons" / icon.en_US))


def test_openai_predefined_models() -> None:
    plugin = REGISTRY["openai"]
    llms = plugin.models[ModelType.LLM]
    assert llms[0].model == "gpt-5" and {"gpt-4o-mini", "o3"} <= {m.model for m in llms}
    for model in llms + plugin.models[ModelType.TEXT_EMBEDDING]:
        assert model.pricing is not None and model.pricing.input >= 0, model.model
        assert model.context_size and model.context_size >= 4096, model.model
    mini = plugin.predefined(ModelType.LLM, "gpt-4o-mini")
    assert mini is not None and mini.pricing is not None and mini.model_properties["mode"] == "chat"
    assert {r.name for r in mini.parameter_rules} >= {"temperature", "max_tokens"}
    assert plugin.predefined(ModelType.TEXT_EMBEDDING, "gpt-4o-mini") is None


def test_secret_variables() -> None:
    assert REGISTRY["openai"].schema.secret_variables() == {"api_key"}


HOSTED = ["deepseek", "groq", "mistral", "together", "openrouter", "moonshot", "siliconflow", "fireworks"]


@pytest.mark.parametrize("provider_id", HOSTED)
def test_hosted_openai_compatible_services_are_yaml_only(provider_id: str) -> None:
    plugin = REGISTRY[provider_id]
    assert not (plugin.directory / "__init__.py").exists()
    assert plugin.provider_class() is REGISTRY["openai_compatible"].provider_class()
    assert plugin.schema.provider_credential_schema is not None
    forms = {f.variable: f for f in plugin.schema.provider_credential_schema.credential_form_schemas}
    assert forms["api_key"].required and forms["api_key"].is_secret
    assert str(forms["base_url"].default).startswith("https://")


def test_a_plugin_without_code_must_name_the_code_that_serves_it(tmp_path: Path) -> None:
    folder = tmp_path / "nocode"
    folder.mkdir()
    (folder / "provider.yaml").write_text("provider: nocode\nlabel: {en_US: No code}\n"
                                          "supported_model_types: [llm]\nconfigurate_methods: [customizable-model]\n")
    with pytest.raises(ConfigError) as caught:
        load_plugin("providers.nocode", folder)
    assert "extra.code" in str(caught.value) and "provider.yaml" in str(caught.value)
