"""One provider: what it is, where to get credentials, its instances here, and its credential forms to validate.

The provider form checks new credentials (``POST /v1/providers/{p}/credentials/validate``); a customizable
provider also gets the model form (``.../models/credentials/validate``) with the model type and name first, so
``show_on: __model_type`` rules apply. "Check" on an instance validates its configured credentials without the
console ever seeing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Static

from core.api import ValidationResult
from core.schema import CredentialFormSchema, FormOption, FormType, I18nText

from ..api import ConsoleError, Gateway
from ..widgets.credential_form import CredentialForm
from ..wire import ProviderView
from .base import ConsoleScreen

__all__ = ["ProviderDetailScreen"]

MODEL_TYPE, MODEL_NAME = "__model_type", "__model_name"


class ProviderDetailScreen(ConsoleScreen):
    """Pushed from the provider list; Escape goes back."""

    CSS_PATH = "provider_detail.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "validate", "Validate"),
    ]

    def __init__(self, gateway: Gateway, provider: str) -> None:
        super().__init__(gateway)
        self.provider_id = provider
        self.provider: ProviderView | None = None

    def compose_body(self) -> ComposeResult:
        """Filled once the provider arrives."""
        yield VerticalScroll(id="detail")

    async def show_content(self) -> None:
        """Fetch and lay out the provider (the forms start empty again)."""
        provider = await self.fetch(self.gateway.provider(self.provider_id))
        if provider is not None:
            self.provider = provider
            detail = self.query_one("#detail")
            await detail.remove_children()
            await detail.mount_all(_sections(provider))

    def action_validate(self) -> None:
        """Validate the provider form."""
        if self.provider is not None:
            self.validate_provider()

    @on(Button.Pressed, "#validate")
    def _validate_pressed(self) -> None:
        self.action_validate()

    @on(Button.Pressed, "#validate-model")
    def _validate_model_pressed(self) -> None:
        self.validate_model()

    @on(Button.Pressed, ".check")
    def _check_pressed(self, event: Button.Pressed) -> None:
        if event.button.name:
            self.check_instance(event.button.name)

    @work(exclusive=True, group="validate")
    async def validate_provider(self) -> None:
        """Send the provider form to the gateway and show its verdict."""
        form = self.query_one("#provider-form", CredentialForm)
        await self._verdict("#verdict", partial(self.gateway.validate, self.provider_id, form.values()))

    @work(exclusive=True, group="validate")
    async def validate_model(self) -> None:
        """Send the model form (with the provider form's credentials) and show the verdict."""
        form = self.query_one("#model-form", CredentialForm)
        provider_form = self.query_one("#provider-form", CredentialForm)
        call = partial(self.gateway.validate_model, self.provider_id, form.value(MODEL_NAME),
                       form.value(MODEL_TYPE), form.values(), provider_form.values())
        await self._verdict("#model-verdict", call)

    @work(exclusive=True, group="validate")
    async def check_instance(self, instance: str) -> None:
        """Validate an instance's configured credentials."""
        await self._verdict("#instance-verdict", partial(self.gateway.validate, self.provider_id, {},
                                                         instance=instance), f"{instance}: ")

    async def _verdict(self, where: str, call: Callable[[], Awaitable[ValidationResult]], prefix: str = "") -> None:
        """Show ``checking...``, then the gateway's verdict (or why there is none) in ``where``."""
        verdict = self.query_one(where, Static)
        verdict.set_classes("verdict")
        verdict.update(f"{prefix}checking...")
        try:
            result = await call()
        except ConsoleError as exc:
            verdict.set_classes("verdict -invalid")
            verdict.update(f"{prefix}{exc.message}")
            return
        verdict.set_classes(f"verdict {'-valid' if result.valid else '-invalid'}")
        verdict.update(f"{prefix}valid" if result.valid else f"{prefix}invalid: {result.error}")


def _sections(provider: ProviderView) -> list[Static | Horizontal | CredentialForm | Button]:
    """The provider's description, instances and forms, top to bottom."""
    parts: list[Static | Horizontal | CredentialForm | Button] = [
        Static(f"[b]{escape(provider.label)}[/b] ({provider.id})", classes="title"),
    ]
    schema = provider.schema
    if schema.description:
        parts.append(Static(schema.description.en_US, markup=False))
    if schema.help:
        url = schema.help.url.en_US
        parts.append(Static(f"{escape(schema.help.title.en_US)}: [link={url!r}]{escape(url)}[/link]",
                            classes="help"))
    parts.append(Static(f"Configuration: {', '.join(schema.configurate_methods)}\n"
                        f"Model types: {', '.join(schema.supported_model_types)}", markup=False))
    if provider.instances:
        parts.append(Static("Instances in this profile", classes="heading"))
        for instance in provider.instances:
            shown = " ".join(f"{k}={v}" for k, v in instance.credentials.items())
            state = instance.status if instance.reason is None else f"{instance.status} ({instance.reason})"
            parts.append(Horizontal(Static(f"{instance.name}: {state}  {shown}", markup=False, classes="instance"),
                                    Button("Check", name=instance.name, classes="check", compact=True),
                                    classes="instance-row"))
        parts.append(Static(id="instance-verdict", classes="verdict"))
    parts += [Static("Provider credentials (* required)", classes="heading"),
              CredentialForm(provider.credential_fields, id="provider-form"),
              Button("Validate", id="validate", compact=True), Static(id="verdict", classes="verdict")]
    model_form = schema.model_credential_schema
    if model_form is not None and "customizable-model" in schema.configurate_methods:
        types = [str(t) for t in schema.supported_model_types]
        steering = [CredentialFormSchema(variable=MODEL_TYPE, label=I18nText(en_US="Model type"),
                                         type=FormType.SELECT, default=types[0] if types else None,
                                         options=[FormOption(label=I18nText(en_US=t), value=t) for t in types]),
                    CredentialFormSchema(variable=MODEL_NAME, label=model_form.model.label,
                                         type=FormType.TEXT_INPUT, placeholder=model_form.model.placeholder)]
        parts += [Static("Customizable model", classes="heading"),
                  CredentialForm(steering + model_form.credential_form_schemas, id="model-form"),
                  Button("Validate model", id="validate-model", compact=True),
                  Static(id="model-verdict", classes="verdict")]
    return parts
