"""The console against a real gateway: fake OpenAI and Cohere upstreams, and a test plug-in with every credential
widget (``plugins/providers/console_form``).

The console is pointed at ``http://gateway.test``; :class:`GatewayTransport` carries its requests to the gateway's
real port and shows the fakes' addresses as ``openai.test`` and ``cohere.test``, so every screen reads the same on
every run (snapshots) whatever ports the processes got.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from console.api import Gateway
from console.app import ConsoleApp
from tests.conftest import GATEWAY_KEY, UPSTREAM_KEY
from tests.fakes.cohere_upstream import FakeCohere
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import ROOT, GatewayProcess

URL = "http://gateway.test"
COHERE_KEY = "co-console-test-key"

PROFILE = """
server: {api_keys: ["${GATEWAY_KEY}"]}
providers:
  - name: openai
    provider: openai
    credentials: {api_key: "${FAKE_KEY}", base_url: "${FAKE_URL}"}
    models: [gpt-4o-mini, text-embedding-3-small, tts-1, whisper-1, omni-moderation-latest]
  - name: cohere
    provider: cohere
    credentials: {api_key: "${COHERE_KEY}", base_url: "${COHERE_URL}"}
    models: [rerank-v3.5, command-a-reasoning-08-2025]
  - name: form
    provider: console_form
    credentials: {base_url: "${FAKE_URL}", api_key: "${FAKE_KEY}"}
  - name: spare
    provider: openai
    credentials: {api_key: "${UNSET_CONSOLE_TEST_KEY:-}"}
routes:
  - model: chat
    deployments: [{target: form/console-chat}]
    fallbacks: [openai/gpt-4o-mini]
  - model: rerank
    deployments: [{target: cohere/rerank-v3.5}]
  - model: slow                    # a 50-word answer streamed an event every 50 ms (see FakeOpenAI)
    model_type: llm
    deployments: [{target: form/fault-slow-stream-0.05}]
router: {retries: 0}
"""


class GatewayTransport(httpx.AsyncBaseTransport):
    """Sends the console's requests to the gateway on ``port``; JSON answers get ``masks`` applied."""

    def __init__(self, port: int, masks: dict[str, str]) -> None:
        self._port = port
        self._masks = [(old.encode(), new.encode()) for old, new in masks.items()]
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward; rewrite a JSON body (streams and audio pass untouched)."""
        request.url = request.url.copy_with(host="127.0.0.1", port=self._port)
        response = await self._inner.handle_async_request(request)
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response
        body = await response.aread()
        await response.aclose()
        for old, new in self._masks:
            body = body.replace(old, new)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        """Close the pool."""
        await self._inner.aclose()


class ConsoleGateway:
    """The running gateway and its fakes, and consoles pointed at it."""

    def __init__(self, process: GatewayProcess, openai: FakeOpenAI, cohere: FakeCohere) -> None:
        self.process, self.openai, self.cohere = process, openai, cohere

    def client(self, api_key: str = GATEWAY_KEY) -> Gateway:
        """A console API client, as ``model-runtime console --url http://gateway.test`` makes it."""
        masks = {self.openai.base_url: "http://openai.test/v1", self.cohere.base_url: "http://cohere.test"}
        return Gateway(URL, api_key, transport=GatewayTransport(self.process.port, masks))

    def app(self, api_key: str = GATEWAY_KEY, theme: str = "dark") -> ConsoleApp:
        """A console app on this gateway."""
        return ConsoleApp(self.client(api_key), theme=theme)


@pytest.fixture(scope="session")
def cohere_upstream() -> Iterator[FakeCohere]:
    """The fake Cohere server (the console's reranker)."""
    with FakeCohere(COHERE_KEY) as fake:
        yield fake


@pytest.fixture(scope="session")
def console(upstream: FakeOpenAI, cohere_upstream: FakeCohere) -> Iterator[ConsoleGateway]:
    """The gateway serving ``PROFILE``, with the test plug-in on its path."""
    env = {"GATEWAY_KEY": GATEWAY_KEY, "FAKE_URL": upstream.base_url, "FAKE_KEY": UPSTREAM_KEY,
           "COHERE_KEY": COHERE_KEY, "COHERE_URL": cohere_upstream.base_url,
           "PYTHONPATH": str(ROOT / "tests" / "console" / "plugins")}
    with GatewayProcess(PROFILE, env) as process:
        yield ConsoleGateway(process, upstream, cohere_upstream)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the app's workers are done, and the messages their results sent are handled."""
    for _ in range(100):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(w.is_finished for w in pilot.app.workers):
            return
    raise AssertionError("the console kept working")


def text(widget: Static) -> str:
    """What a Static shows (its markup, for a marked-up one)."""
    return str(widget.content)


def rows(table: DataTable[Any]) -> list[list[Any]]:
    """A table's cells, row by row."""
    return [table.get_row(key) for key in table.rows]
