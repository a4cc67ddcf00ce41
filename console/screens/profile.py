"""The profile screen: the effective profile as the gateway reports it (secrets masked), its instances with their
state, its routes with each deployment's health (cooling down or not), usage per key, model and deployment (with an
admin key), and the whole profile as YAML."""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from core.usage import UsageReport

from ..api import ApiError
from ..wire import Health
from .base import ConsoleScreen

__all__ = ["ProfileScreen"]

ROLES = (("deployments", "deployment"), ("fallbacks", "fallback"), ("context_fallbacks", "context fallback"))


class ProfileScreen(ConsoleScreen):
    """Instances, routes, and the YAML."""

    CSS_PATH = "profile.tcss"
    def compose_body(self) -> ComposeResult:
        """One tab each."""
        with TabbedContent(id="profile-tabs"):
            with TabPane("Instances", id="instances-tab"):
                yield DataTable(id="instances", cursor_type="row", zebra_stripes=True)
                yield Static(id="reasons", markup=False)
            with TabPane("Routes", id="routes-tab"):
                yield DataTable(id="routes", cursor_type="row", zebra_stripes=True)
            with TabPane("Usage", id="usage-tab"):
                yield DataTable(id="usage", cursor_type="row", zebra_stripes=True)
                yield Static(id="usage-note", markup=False)
            with TabPane("YAML", id="yaml-tab"), VerticalScroll():
                yield Static(id="yaml", markup=False)

    def on_mount(self) -> None:
        """The tables' columns."""
        self.query_one("#instances", DataTable).add_columns("Instance", "Provider", "State", "Models", "Credentials")
        self.query_one("#routes", DataTable).add_columns("Route", "Role", "Target", "Weight", "Health")
        self.query_one("#usage", DataTable).add_columns("Key", "Model", "Deployment", "Requests", "Errors",
                                                        "Tokens in", "Tokens out", "Cost")

    async def show_content(self) -> None:
        """The profile and the health report, side by side."""
        both = await self.fetch(asyncio.gather(self.gateway.profile(), self.gateway.health()))
        if both is None:
            return
        profile, health = both
        self._instances(profile, health)
        self._routes(profile, health)
        await self._usage()
        self.query_one("#yaml", Static).update(yaml.safe_dump(profile, sort_keys=False, allow_unicode=True))

    def _instances(self, profile: dict[str, Any], health: Health) -> None:
        table = self.query_one("#instances", DataTable)
        table.clear()
        reasons = []
        for entry in profile.get("providers", []):
            name = entry.get("name") or entry.get("provider", "?")
            state = health.providers.get(name)
            status = "?" if state is None else state.status.replace("_", " ")
            if state is not None and state.reason:
                reasons.append(f"{name}: {state.reason}")
            models = entry.get("models", ["*"])
            credentials = " ".join(f"{k}={v}" for k, v in entry.get("credentials", {}).items())
            table.add_row(name, entry.get("provider", "?"), status, len(models) if models != ["*"] else "all",
                          credentials)
        self.query_one("#reasons", Static).update("\n".join(reasons))

    def _routes(self, profile: dict[str, Any], health: Health) -> None:
        table = self.query_one("#routes", DataTable)
        table.clear()
        routed = set()
        for route in profile.get("routes", []):
            for key, role in ROLES:
                for entry in route.get(key, []):
                    target = entry["target"] if isinstance(entry, dict) else str(entry)
                    weight = entry.get("weight", 1) if isinstance(entry, dict) else ""
                    routed.add(target)
                    table.add_row(route["model"], role, target, weight, _state(health, target))
        for target in sorted(set(health.cooldowns) - routed):
            table.add_row("-", "direct", target, "", _state(health, target))


    async def _usage(self) -> None:
        table = self.query_one("#usage", DataTable)
        note = self.query_one("#usage-note", Static)
        table.clear()
        try:
            usage: UsageReport = await self.gateway.usage()
        except ApiError as exc:  # a key that is not admin: the other tabs still show
            note.update(exc.message)
            return
        for row in usage.data:
            table.add_row(row.key or "-", row.model, row.deployment or "-", row.requests, row.errors,
                          row.prompt_tokens, row.completion_tokens, f"{row.cost:.6f}")
        total = usage.totals
        note.update(f"Total: {total.requests} requests, {total.errors} errors, {total.total_tokens} tokens, "
                    f"cost {total.cost:.6f}")


def _state(health: Health, target: str) -> str:
    left = health.cooldowns.get(target)
    return "ok" if left is None else f"cooling down, {left:g}s left"
