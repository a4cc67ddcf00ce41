"""The playground: chat streamed and stopped, embeddings, rerank, speech to a file and back, moderation."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static, TabbedContent, TextArea

from console.playground.base import PlaygroundPane
from console.playground.chat import ChatPane
from console.widgets.parameters import ParameterControls
from tests.console.conftest import ConsoleGateway, rows, settle, text


async def open_tab(pilot: Pilot[None], tab: str) -> PlaygroundPane:
    """The playground's ``tab``, built and offered the gateway's models."""
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    pilot.app.screen.query_one(TabbedContent).active = f"{tab}-tab"
    await settle(pilot)
    return pilot.app.screen.query_one(f"#{tab}", PlaygroundPane)


def outcome(pane: PlaygroundPane) -> str:
    return text(pane.query_one(".outcome", Static))



async def chat_tab(pilot: Pilot[None], model: str) -> PlaygroundPane:
    """The chat tab, with ``model`` picked."""
    pane = await open_tab(pilot, "chat")
    pane.query_one(".model", Select).value = model
    await settle(pilot)
    return pane


async def send(pilot: Pilot[None], pane: PlaygroundPane, message: str) -> None:
    prompt = pane.query_one("#prompt", Input)
    prompt.value = message
    prompt.focus()
    await pilot.press("enter")


async def test_chat_streams_the_answer_with_usage_cost_latency_and_the_gateways_errors(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_tab(pilot, "chat")
        assert pane.model == "chat"
        controls = pane.query_one(ParameterControls)
        assert [r.name for r in controls.rules] == ["temperature", "max_tokens", "response_format", "stop"]
        assert controls.values() == {"temperature": 1.0, "max_tokens": 256}  # the defaults, pre-filled
        pane.query_one("#system", Input).value = "Be brief."
        console.openai.clear()
        await send(pilot, pane, "hello world")
        await settle(pilot)
        assert [text(s) for s in pane.query("#transcript Static").results(Static) if s.display] == [
            "> hello world", "echo: hello world"]
        assert re.fullmatch(r"via form/console-chat, \d+ in \+ 3 out tokens, [0-9.]+ USD, first token \d+ ms, \d+ ms",
                            outcome(pane)), outcome(pane)
        sent = console.openai.requests[-1].json()
        assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "hello world"}]
        assert (sent["temperature"], sent["max_tokens"], sent["stream"]) == (1.0, 256, True)
        await send(pilot, pane, "again")  # the conversation goes along
        await settle(pilot)
        assert len(console.openai.requests[-1].json()["messages"]) == 4
        control = pane.query_one(ParameterControls).control("temperature")
        assert isinstance(control, Input)
        control.value = "5"
        await send(pilot, pane, "hi")
        await settle(pilot)
        assert outcome(pane) == "Invalid value for 'temperature': must be at most 2, got 5."
        assert pane.query_one(".outcome").has_class("-failed")
        assert isinstance(pane, ChatPane) and len(pane.messages) == 4  # the failed turn is not part of the chat


async def test_a_models_thinking_shows_apart_from_its_answer_and_is_not_sent_back(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await chat_tab(pilot, "cohere/command-a-reasoning-08-2025")
        await send(pilot, pane, "hello world")
        await settle(pilot)
        [thinking] = pane.query(".thinking").results(Static)
        assert thinking.display and text(thinking) == "The user said: hello world"
        assert [text(s) for s in pane.query("#transcript Static").results(Static) if s.display] == [
            "> hello world", "The user said: hello world", "echo: hello world"]
        await send(pilot, pane, "again")
        await settle(pilot)
        assert console.cohere.requests[-1].json()["messages"][1] == {"role": "assistant",
                                                                     "content": "echo: hello world"}
        pane.query_one(".model", Select).value = "chat"
        await settle(pilot)
        await send(pilot, pane, "plain")
        await settle(pilot)
        assert not list(pane.query(".thinking").results(Static))[-1].display  # a model that does not think


async def test_tokens_show_as_they_arrive_and_escape_stops_the_stream(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await chat_tab(pilot, "slow")
        before = console.openai.disconnects
        await send(pilot, pane, "tell me a story")
        answer = None
        for _ in range(200):
            await pilot.pause(0.02)
            answers = pane.query(".assistant").results(Static)
            answer = next(answers, None)
            if answer is not None and len(text(answer).split()) >= 3:
                break
        assert answer is not None and 3 <= len(text(answer).split()) < 50  # part of the 50 words, still coming
        await pilot.press("escape")
        await settle(pilot)
        assert text(answer).endswith(" [stopped]") and outcome(pane) == "stopped"
        assert await asyncio.to_thread(console.openai.wait_for_disconnect, 5.0, before + 1)


async def test_embeddings_dimensions_norms_and_cosines(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_tab(pilot, "embeddings")
        assert pane.model == "openai/text-embedding-3-small"
        pane.query_one("#texts", TextArea).text = "the cat sat\n\nthe dog ran\nstocks fell\n"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert outcome(pane) == ("3 vectors of 8 dimensions via openai/text-embedding-3-small, 0.00000016 USD")
        table = rows(pane.query_one("#vectors", DataTable))
        assert [r[:3] for r in table] == [[1, "the cat sat", "1.0000"], [2, "the dog ran", "1.0000"],
                                          [3, "stocks fell", "1.0000"]]
        assert [table[i][3 + i] for i in range(3)] == ["1.0000"] * 3
        assert table[0][4] == table[1][3]  # symmetric


async def test_rerank_ranks_best_first(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_tab(pilot, "rerank")
        assert pane.model == "rerank"
        pane.query_one("#query", Input).value = "capital of France"
        pane.query_one("#documents", TextArea).text = ("Berlin is the capital of Germany.\n"
                                                       "Paris is the capital of France.\nBananas are yellow.")
        pane.query_one("#top-n", Input).value = "2"
        await pilot.press("ctrl+r")
        await settle(pilot)
        ranking = rows(pane.query_one("#ranking", DataTable))
        assert [(r[0], r[1], r[3]) for r in ranking] == [(1, 2, "Paris is the capital of France."),
                                                        (2, 1, "Berlin is the capital of Germany.")]
        assert float(ranking[0][2]) > float(ranking[1][2])
        assert outcome(pane) == "2 of 3 documents ranked via cohere/rerank-v3.5, 0.002 USD"


async def test_speech_to_a_file_and_back_to_text(console: ConsoleGateway, tmp_path: Path) -> None:
    app = console.app()
    audio = tmp_path / "hello.wav"
    async with app.run_test(size=(80, 24)) as pilot:
        speech = await open_tab(pilot, "speech")
        assert (speech.model, speech.query_one("#voice", Select).value) == ("openai/tts-1", "alloy")
        speech.query_one("#speech-text", Input).value = "Hello there, how are you today"
        speech.query_one("#speech-path", Input).value = str(audio)
        await pilot.press("ctrl+r")
        await settle(pilot)
        wrote = re.fullmatch(rf"wrote {audio}: {audio.stat().st_size:,} bytes, (\d\.\d\d) s via openai/tts-1, "
                             r"[0-9.]+ USD", outcome(speech))
        assert wrote is not None, outcome(speech)
        transcription = await open_tab(pilot, "transcription")
        transcription.query_one("#audio-path", Input).value = str(audio)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert text(transcription.query_one("#transcript-text", Static)) == f"A {wrote[1]} second recording."
        transcription.query_one("#audio-path", Input).value = str(tmp_path / "missing.wav")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert outcome(transcription) == f"Cannot read {tmp_path / 'missing.wav'}: No such file or directory"


async def test_moderation_lists_the_flagged_categories_first(console: ConsoleGateway) -> None:
    app = console.app()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_tab(pilot, "moderation")
        assert pane.model is None  # the gateway's default model
        pane.query_one("#moderation-text", TextArea).text = "I will kill you"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert outcome(pane) == ("flagged: violence (omni-moderation-latest) via openai/omni-moderation-latest")
        assert rows(pane.query_one("#categories", DataTable))[0][:2] == ["violence", "yes"]


def test_snapshot_chat(console: ConsoleGateway, snap_compare: Any) -> None:
    async def chat(pilot: Pilot[None]) -> None:
        await open_tab(pilot, "chat")

    assert snap_compare(console.app(), run_before=chat)


def test_snapshot_rerank(console: ConsoleGateway, snap_compare: Any) -> None:
    async def rerank(pilot: Pilot[None]) -> None:
        pane = await open_tab(pilot, "rerank")
        pane.query_one("#query", Input).value = "capital of France"
        pane.query_one("#documents", TextArea).text = "Berlin is in Germany.\nParis is the capital of France."
        pane.run_call()
        await settle(pilot)

    assert snap_compare(console.app(), run_before=rerank)
