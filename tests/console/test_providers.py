"""The providers screens: the list and its filter, a provider's detail, its credential forms and their validation."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, RadioButton, RadioSet, Select, Static, Switch

from console.app import ConsoleApp
from console.screens.provider_detail import ProviderDetailScreen
from console.widgets.credential_form import CredentialForm
from tests.conftest import UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.console.conftest import ConsoleGateway, settle, text


async def open_provider(app: ConsoleApp, pilot: Pilot[None], term: str) -> ProviderDetailScreen:
    """Filter the list down to one provider with ``/`` and open it."""
    await settle(pilot)
    await pilot.press("slash")
    app.screen.query_one("#filter", Input).value = term
    await pilot.press("enter", "enter")
    await settle(pilot)
    assert isinstance(app.screen, ProviderDetailScreen)
    return app.screen


def provider_form(screen: ProviderDetailScreen) -> CredentialForm:
    return screen.query_one("#provider-form", CredentialForm)


async def test_the_list_shows_types_instances_and_status_and_filters_with_slash(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        rows = {str(key.value): table.get_row(key) for key in table.rows}
        async with console.client() as client:
            assert len(rows) == len(await client.providers())
        assert rows["openai"] == ["OpenAI", "llm emb stt tts mod", "yes", "1/2 ready"]
        assert rows["cohere"][2:] == ["yes", "ready"]
        assert rows["jina"][2:] == ["no", "-"]
        await pilot.press("slash", *"rerank")
        shown = [str(key.value) for key in table.rows]
        assert "cohere" in shown and "openai" not in shown
        await pilot.press("escape")
        assert len(table.rows) == len(rows)


async def test_detail_shows_description_help_methods_and_masked_instances(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_provider(app, pilot, "console form")
        shown = "\n".join(text(s) for s in screen.query(Static) if isinstance(s.content, str))
        assert "An OpenAI-compatible server behind a form with every widget type." in shown
        assert "https://example.com/keys" in shown
        assert "Configuration: predefined-model, customizable-model" in shown
        assert "form: ready" in shown and "api_key=sk-...3a9c" in shown
        assert UPSTREAM_KEY not in shown
        await pilot.press("escape")
        assert type(app.screen).__name__ == "ProvidersScreen"


async def test_fields_get_their_widgets_and_show_on_rules_apply_live(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_provider(app, pilot, "console form")
        form = provider_form(screen)
        labels = [text(label) for label in form.query(".field-label").results(Static)]
        assert labels[:3] == ["API Base URL * (max 200)", "API Key *", "Region"]
        base_url, api_key = form.widget_for("base_url"), form.widget_for("api_key")
        assert isinstance(base_url, Input) and not base_url.password and base_url.max_length == 200
        assert base_url.placeholder == "http://127.0.0.1:8000/v1" and base_url.value == ""
        assert isinstance(api_key, Input) and api_key.password and api_key.value == ""  # never a stored secret
        assert isinstance(form.widget_for("region"), Select) and form.value("region") == "eu"
        assert isinstance(form.widget_for("tier"), RadioSet) and form.value("tier") == "standard"
        assert isinstance(form.widget_for("use_proxy"), Switch) and form.value("use_proxy") == "false"

        proxy_row = form.widget_for("proxy_url").parent
        assert proxy_row is not None and not proxy_row.display
        form.widget_for("use_proxy").focus()
        await pilot.press("space")
        await settle(pilot)
        assert proxy_row.display and form.value("use_proxy") == "true"
        sovereign = next(b for b in form.widget_for("tier").query(RadioButton) if b.name == "sovereign")
        assert sovereign.display
        region = form.widget_for("region")
        assert isinstance(region, Select)
        region.value = "us"
        await settle(pilot)
        assert not sovereign.display

        model_form = screen.query_one("#model-form", CredentialForm)
        vision_row = model_form.widget_for("vision_support").parent
        assert vision_row is not None and vision_row.display  # __model_type is llm
        model_type = model_form.widget_for("__model_type")
        assert isinstance(model_type, Select)
        model_type.value = "text-embedding"
        await settle(pilot)
        assert not vision_row.display
        assert "vision_support" not in model_form.values() and "__model_type" not in model_form.values()


async def validate(pilot: Pilot[None], screen: ProviderDetailScreen, **values: str) -> Static:
    form = provider_form(screen)
    for variable, value in values.items():
        field = form.widget_for(variable)
        assert isinstance(field, Input)
        field.value = value
    await pilot.press("ctrl+s")
    await settle(pilot)
    return screen.query_one("#verdict", Static)


async def test_validate_a_good_key_a_bad_key_and_a_missing_field(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_provider(app, pilot, "console form")
        verdict = await validate(pilot, screen, base_url=console.openai.base_url, api_key=UPSTREAM_KEY)
        assert text(verdict) == "valid" and verdict.has_class("-valid")
        verdict = await validate(pilot, screen, api_key=WRONG_UPSTREAM_KEY)
        assert text(verdict).startswith("invalid: ") and verdict.has_class("-invalid")
        assert "rejected" in text(verdict) and WRONG_UPSTREAM_KEY not in text(verdict)
        switch = provider_form(screen).widget_for("use_proxy")
        assert isinstance(switch, Switch)
        switch.value = True  # shows proxy_url, required and left empty: the server's form rules say so
        verdict = await validate(pilot, screen, api_key=UPSTREAM_KEY)
        assert text(verdict) == "invalid: proxy_url: required by provider 'console_form'"


async def test_check_a_configured_instance_and_a_customizable_model(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_provider(app, pilot, "console form")
        screen.query_one(".check", Button).press()
        await settle(pilot)
        assert text(screen.query_one("#instance-verdict", Static)) == "form: valid"
        await validate(pilot, screen, base_url=console.openai.base_url, api_key=UPSTREAM_KEY)
        model_name = screen.query_one("#model-form", CredentialForm).widget_for("__model_name")
        assert isinstance(model_name, Input)
        model_name.value = "my-model"
        screen.query_one("#validate-model", Button).press()
        await settle(pilot)
        assert text(screen.query_one("#model-verdict", Static)) == "valid"


def test_snapshot_providers_filtered(console: ConsoleGateway, snap_compare: Any) -> None:
    assert snap_compare(console.app(), press=["slash", *"console", "enter"], run_before=settle)


def test_snapshot_provider_detail(console: ConsoleGateway, snap_compare: Any) -> None:
    async def open_form(pilot: Pilot[None]) -> None:
        await open_provider(pilot.app, pilot, "console form")  # type: ignore[arg-type]

    assert snap_compare(console.app(), run_before=open_form)
