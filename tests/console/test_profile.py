"""The profile screen: instances and their state, routes with each deployment's health, the masked YAML."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent

from console.api import Gateway
from console.app import ConsoleApp
from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY
from tests.console.conftest import ConsoleGateway, rows, settle, text
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

FLAKY = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: up
    provider: openai_compatible
    credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}
routes:
  - model: flaky
    model_type: llm
    deployments: [{target: up/fault-status-500, weight: 2}]
    fallbacks: [up/gpt-4o-mini]    # cooldowns are kept only where there is a choice
router: {retries: 0, cooldown_after: 1, cooldown_s: 600}
"""
METERED = """
server: {keys: [{name: console, key: "${GATEWAY_KEY}", admin: true}], api_keys: ["${PLAIN_KEY}"]}
providers:
  - name: openai
    provider: openai
    credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}
    models: [gpt-4o-mini]
"""
PLAIN_KEY = "mr-console-plain-key-0123"



async def test_instances_routes_and_yaml_with_secrets_masked(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        screen = app.screen
        instances = rows(screen.query_one("#instances", DataTable))
        assert [r[:4] for r in instances] == [["openai", "openai", "ok", 5], ["cohere", "cohere", "ok", 2],
                                              ["form", "console_form", "ok", "all"],
                                              ["spare", "openai", "not configured", "all"]]
        assert "api_key=sk-...3a9c" in instances[0][4] and "base_url=http://openai.test/v1" in instances[0][4]
        assert text(screen.query_one("#reasons", Static)) == "spare: set UNSET_CONSOLE_TEST_KEY"
        assert rows(screen.query_one("#routes", DataTable))[:3] == [
            ["chat", "deployment", "form/console-chat", 1, "ok"], ["chat", "fallback", "openai/gpt-4o-mini", "", "ok"],
            ["rerank", "deployment", "cohere/rerank-v3.5", 1, "ok"]]
        yaml_text = text(screen.query_one("#yaml", Static))
        assert "api_key: sk-...3a9c" in yaml_text and UPSTREAM_KEY not in yaml_text and GATEWAY_KEY not in yaml_text


@pytest.fixture(scope="module")
def flaky_gateway(upstream: FakeOpenAI) -> Iterator[GatewayProcess]:
    """A gateway whose one route has just failed, so its deployment is cooling down."""
    with GatewayProcess(FLAKY, {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": upstream.base_url,
                                "FAKE_KEY": UPSTREAM_KEY}) as gateway:
        reply = httpx.post(f"{gateway.base_url}/chat/completions", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                           json={"model": "flaky", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
        assert reply.headers["x-model-runtime-deployment"] == "up/gpt-4o-mini", reply.text
        yield gateway


async def open_tab(pilot: Pilot[None], tab: str) -> None:
    """The profile screen (F3), on ``tab``, with its content fetched."""
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    pilot.app.screen.query_one(TabbedContent).active = tab


async def test_a_deployment_cooling_down_shows_on_its_route_and_in_the_status_line(
        flaky_gateway: GatewayProcess) -> None:
    app = ConsoleApp(Gateway(flaky_gateway.url, GATEWAY_KEY))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(pilot, "routes-tab")
        route, fallback = rows(app.screen.query_one("#routes", DataTable))
        assert route[:4] == ["flaky", "deployment", "up/fault-status-500", 2]
        assert route[4].startswith("cooling down, ") and route[4].endswith("s left")
        assert fallback == ["flaky", "fallback", "up/gpt-4o-mini", "", "ok"]
        assert "1 cooling down" in text(app.screen.query_one("#status", Static))


async def test_usage_per_key_model_and_deployment_for_an_admin_key(upstream: FakeOpenAI) -> None:
    env = {"GATEWAY_KEY": GATEWAY_KEY, "PLAIN_KEY": PLAIN_KEY, "FAKE_URL": upstream.base_url,
           "FAKE_KEY": UPSTREAM_KEY}
    with GatewayProcess(METERED, env) as gateway:
        for key in (GATEWAY_KEY, GATEWAY_KEY, PLAIN_KEY):
            reply = httpx.post(f"{gateway.base_url}/chat/completions", headers={"authorization": f"Bearer {key}"},
                               json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                               timeout=10)
            assert reply.status_code == 200, reply.text
        for key, shown in ((GATEWAY_KEY, True), (PLAIN_KEY, False)):
            app = ConsoleApp(Gateway(gateway.url, key))
            async with app.run_test(size=(100, 24)) as pilot:
                await open_tab(pilot, "usage-tab")
                table = rows(app.screen.query_one("#usage", DataTable))
                note = text(app.screen.query_one("#usage-note", Static))
                if not shown:
                    assert table == [] and "needs an admin key" in note
                    continue
                assert [r[:5] for r in table] == [["console", "openai/gpt-4o-mini", "openai/gpt-4o-mini", 2, 0],
                                                   ["api_keys[0]", "openai/gpt-4o-mini", "openai/gpt-4o-mini", 1, 0]]
                assert note.startswith("Total: 3 requests, 0 errors, ")


def test_snapshot_profile(console: ConsoleGateway, snap_compare: Any) -> None:
    assert snap_compare(console.app(), press=["f3"], run_before=settle)


def test_snapshot_profile_routes_in_light_theme(console: ConsoleGateway, snap_compare: Any) -> None:
    async def routes(pilot: Pilot[None]) -> None:
        await open_tab(pilot, "routes-tab")

    assert snap_compare(console.app(theme="light"), run_before=routes)
