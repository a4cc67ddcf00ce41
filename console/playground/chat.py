"""The chat tab: a conversation streamed token by token, with the model's parameter controls beside it.

The model's thinking (``reasoning_content``), when it thinks aloud, shows dimmed above its answer and is not sent
back. Enter sends the prompt; Escape stops the answer (closing the stream, so the gateway cancels the upstream call);
Ctrl+L starts a new conversation. After each answer: tokens, cost (from the answering deployment's price), time to
the first token and in all.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Select, Static

from core.openai.usage import Usage

from ..api import ConsoleError
from ..display import call_cost
from ..widgets.parameters import ParameterControls
from .base import PlaygroundPane

__all__ = ["ChatPane"]


class ChatPane(PlaygroundPane):
    """Chat with any ``llm`` model the gateway lists."""

    MODEL_TYPE = "llm"
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+l", "new_chat", "New chat"),
    ]

    messages: list[dict[str, Any]] = []
    """The conversation so far (replaced, never mutated in place)."""

    def compose(self) -> ComposeResult:
        """Parameters on the left, the conversation on the right."""
        with Horizontal():
            with VerticalScroll(id="chat-side"):
                yield self.model_picker()
                yield Vertical(id="parameters")
            with Vertical(id="chat-main"):
                yield Input(placeholder="System prompt (optional)", id="system", compact=True)
                yield VerticalScroll(id="transcript")
                yield Input(placeholder="Message: Enter sends, Escape stops", id="prompt", compact=True)
                yield self.outcome()

    @on(Select.Changed, ".model")
    def _model_changed(self) -> None:
        self.load_rules()

    @work(exclusive=True, group="rules")
    async def load_rules(self) -> None:
        """Controls for the picked model's parameter rules."""
        box = self.query_one("#parameters", Vertical)
        await box.remove_children()
        if self.model is None:
            return
        try:
            rules = await self.gateway.parameter_rules(self.model)
        except ConsoleError as exc:
            self.report(exc.message, failed=True)
            return
        await box.mount(ParameterControls(rules))

    @on(Input.Submitted, "#prompt")
    def _send(self) -> None:
        self.run_call()

    def action_stop(self) -> None:
        """Stop the answer being streamed."""
        self.workers.cancel_group(self, "run")

    def action_new_chat(self) -> None:
        """Forget the conversation."""
        self.action_stop()
        self.messages = []
        self.query_one("#transcript", VerticalScroll).remove_children()
        self.report("")

    async def call(self, model: str) -> None:
        """Send the conversation and stream the answer into the transcript."""
        prompt = self.query_one("#prompt", Input)
        if not prompt.value.strip():
            self.report("Type a message first.")
            return
        controls = self.query(ParameterControls)
        parameters = controls.first().values() if controls else {}
        conversation = [*self.messages, {"role": "user", "content": prompt.value}]
        prompt.value = ""
        system = self.query_one("#system", Input).value.strip()
        body = {"model": model, "messages": ([{"role": "system", "content": system}] if system else [])
                + conversation, "stream_options": {"include_usage": True}, **parameters}
        transcript = self.query_one("#transcript", VerticalScroll)
        thinking = Static(classes="thinking", markup=False)
        thinking.display = False
        answer = Static(classes="assistant", markup=False)
        await transcript.mount_all([Static(f"> {conversation[-1]['content']}", classes="user", markup=False),
                                    thinking, answer])
        await self._stream(body, conversation, transcript, thinking, answer)

    async def _stream(self, body: dict[str, Any], conversation: list[dict[str, Any]], transcript: VerticalScroll,
                      thinking: Static, answer: Static) -> None:
        """Show the answer as it comes; it joins the conversation when complete or stopped, not when it failed."""
        text, thought, usage, first = "", "", None, None
        started = time.perf_counter()
        try:
            async with self.gateway.chat(body) as stream:
                self.report(f"streaming from {stream.info.deployment or body['model']}...")
                async for chunk in stream:
                    usage = chunk.usage or usage
                    delta = "".join(c.delta.content or "" for c in chunk.choices)
                    musing = "".join(c.delta.reasoning_content or "" for c in chunk.choices)
                    if not (delta or musing):
                        continue
                    first = first or time.perf_counter()
                    if musing:
                        thought += musing
                        thinking.display = True
                        thinking.update(thought)
                    if delta:
                        text += delta
                        answer.update(text)
                    transcript.scroll_end(animate=False)
        except asyncio.CancelledError:
            answer.update(text + " [stopped]")
            self.report("stopped")
            self.messages = [*conversation, {"role": "assistant", "content": text}]
            raise
        except ConsoleError:
            answer.update(text + " [failed]")
            raise
        self.messages = [*conversation, {"role": "assistant", "content": text}]
        self.report(self._stats(stream.info.deployment or body["model"], usage, started, first))

    def _stats(self, deployment: str, usage: Usage | None, started: float, first: float | None) -> str:
        ended = time.perf_counter()
        parts = [f"via {deployment}"]
        if usage is not None:
            parts.append(f"{usage.prompt_tokens} in + {usage.completion_tokens or 0} out tokens")
        card = self.models.get(deployment) or self.models.get(str(self.model))
        cost = call_cost(card.pricing if card else None, usage)
        if cost:
            parts.append(cost)
        if first is not None:
            parts.append(f"first token {1000 * (first - started):.0f} ms")
        parts.append(f"{1000 * (ended - started):.0f} ms")
        return ", ".join(parts)
