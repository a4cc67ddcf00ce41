"""The catalogue: provider and model schemas, spelled as Dify spells them so a Dify-style YAML loads as is.

A provider folder holds ``provider.yaml`` (a :class:`ProviderSchema`) and ``models/<model_type>/*.yaml``
(each a :class:`ModelSchema`). Everything here is a frozen ``ConfigBase`` that rejects unknown keys, so a typo
in a YAML file is an error with its file, line and key instead of a silently ignored setting.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "ConfigBase",
    "ConfigurateMethod",
    "CredentialFormSchema",
    "FormOption",
    "FormType",
    "I18nText",
    "ModelCredentialSchema",
    "ModelSchema",
    "ModelType",
    "ParameterRule",
    "ParameterType",
    "PriceConfig",
    "ProviderCredentialSchema",
    "ProviderHelp",
    "ProviderSchema",
    "ShowOn",
]


class ConfigBase(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, omit_defaults=True):
    """Base of profile and catalogue objects: unknown keys are errors, values are immutable.

    msgspec applies ``kw_only`` per class, so subclasses repeat it to put required fields after optional ones.
    """


class ModelType(enum.StrEnum):
    """The six model types, with Dify's spelling."""

    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"
    MODERATION = "moderation"

    @classmethod
    def parse(cls, value: str) -> ModelType:
        """Accept Dify's names and Chatchat's aliases (``text-generation``, ``embeddings``, ``reranking``)."""
        return cls(_MODEL_TYPE_ALIASES.get(value, value))


_MODEL_TYPE_ALIASES = {
    "text-generation": "llm",
    "embeddings": "text-embedding",
    "text_embedding": "text-embedding",
    "reranking": "rerank",
}


class ConfigurateMethod(enum.StrEnum):
    """How a provider's models come to exist."""

    PREDEFINED_MODEL = "predefined-model"
    CUSTOMIZABLE_MODEL = "customizable-model"
    FETCH_FROM_REMOTE = "fetch-from-remote"


class FormType(enum.StrEnum):
    """Widget types of a credential form field."""

    TEXT_INPUT = "text-input"
    SECRET_INPUT = "secret-input"
    SELECT = "select"
    RADIO = "radio"
    SWITCH = "switch"


class ParameterType(enum.StrEnum):
    """Value types of a model parameter."""

    FLOAT = "float"
    INT = "int"
    STRING = "string"
    BOOLEAN = "boolean"
    TEXT = "text"
    TAG = "tag"
    """A string or a list of strings (``stop``)."""


class I18nText(ConfigBase, frozen=True, kw_only=True):
    """A text in several languages; English is required, the others fall back to it."""

    en_US: str
    zh_Hans: str | None = None
    ja_JP: str | None = None
    pt_BR: str | None = None


class ShowOn(ConfigBase, frozen=True, kw_only=True):
    """Show a field only while another field has this value."""

    variable: str
    value: str


class FormOption(ConfigBase, frozen=True, kw_only=True):
    """One choice of a select or radio field."""

    label: I18nText
    value: str
    show_on: list[ShowOn] = []


class CredentialFormSchema(ConfigBase, frozen=True, kw_only=True):
    """One credential field: what the console renders and what the profile loader checks."""

    variable: str
    label: I18nText
    type: FormType
    required: bool = True
    default: str | None = None
    options: list[FormOption] = []
    placeholder: I18nText | None = None
    max_length: int = 0  # 0 means no limit
    show_on: list[ShowOn] = []

    @property
    def is_secret(self) -> bool:
        """Whether the value must never be shown."""
        return self.type is FormType.SECRET_INPUT


class ProviderCredentialSchema(ConfigBase, frozen=True, kw_only=True):
    """The credentials a provider instance needs."""

    credential_form_schemas: list[CredentialFormSchema]


class FieldModelSchema(ConfigBase, frozen=True, kw_only=True):
    """How the console labels the model-name field of a customizable model."""

    label: I18nText
    placeholder: I18nText | None = None


class ModelCredentialSchema(ConfigBase, frozen=True, kw_only=True):
    """The credentials each customizable model needs."""

    model: FieldModelSchema
    credential_form_schemas: list[CredentialFormSchema]


class ProviderHelp(ConfigBase, frozen=True, kw_only=True):
    """Where to get credentials."""

    title: I18nText
    url: I18nText


class ProviderSchema(ConfigBase, frozen=True, kw_only=True):
    """A provider's ``provider.yaml``."""

    provider: str
    label: I18nText
    description: I18nText | None = None
    icon_small: I18nText | None = None
    icon_large: I18nText | None = None
    background: str | None = None
    help: ProviderHelp | None = None
    supported_model_types: list[ModelType]
    configurate_methods: list[ConfigurateMethod]
    provider_credential_schema: ProviderCredentialSchema | None = None
    model_credential_schema: ModelCredentialSchema | None = None
    position: dict[str, list[str]] | None = None
    extra: dict[str, Any] | None = None

    def secret_variables(self) -> frozenset[str]:
        """Names of every secret-input credential, provider- or model-level."""
        forms = list(self.provider_credential_schema.credential_form_schemas if self.provider_credential_schema
                     else [])
        forms += self.model_credential_schema.credential_form_schemas if self.model_credential_schema else []
        return frozenset(f.variable for f in forms if f.is_secret)


class ParameterRule(ConfigBase, frozen=True, kw_only=True):
    """A tunable model parameter (``temperature``, ``max_tokens``, ...), possibly from a standard template."""

    name: str
    use_template: str | None = None
    label: I18nText | None = None
    type: ParameterType | None = None
    help: I18nText | None = None
    required: bool = False
    default: float | int | str | bool | None = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    options: list[str] = []


class PriceConfig(ConfigBase, frozen=True, kw_only=True):
    """Price per ``unit`` tokens (``unit: 0.000001`` means the price is per million)."""

    input: Decimal
    output: Decimal | None = None
    unit: Decimal
    currency: str


class ModelSchema(ConfigBase, frozen=True, kw_only=True):
    """A predefined model's YAML file."""

    model: str
    label: I18nText | None = None
    model_type: ModelType
    features: list[str] = []
    fetch_from: ConfigurateMethod | None = None
    model_properties: dict[str, Any] = {}
    parameter_rules: list[ParameterRule] = []
    pricing: PriceConfig | None = None
    deprecated: bool = False

    @property
    def context_size(self) -> int | None:
        """The context window in tokens, when the YAML gives it."""
        value = self.model_properties.get("context_size")
        return value if isinstance(value, int) else None

    @property
    def voices(self) -> list[str]:
        """A speech model's voice names as the API takes them (Dify's ``voices: [{mode, name}]``)."""
        voices = self.model_properties.get("voices")
        if not isinstance(voices, list):
            return []
        return [str(v["mode"]) if isinstance(v, dict) and "mode" in v else str(v) for v in voices]

    def int_property(self, name: str) -> int | None:
        """A whole-number model property (``word_limit``, ``file_upload_limit``), when the YAML gives one."""
        value = self.model_properties.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
