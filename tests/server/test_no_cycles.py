"""A model call leaves no reference cycles behind: its objects are freed by reference counting as it ends.

Serving workers run the cycle collector rarely (server/workers.py, ``YOUNG_GC_THRESHOLD``), so every object a
request leaves in a cycle stays until a collection walks it. One self-reference per request (``CycleConn``) cost
9% of chat's throughput before it was found. Here the real app is served in this process, under
:class:`server.protocol.HttpProtocol` as in production, and the collector is asked what it found."""

from __future__ import annotations

import gc
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import uvicorn

from core.profile import load_profile
from server.app import create_app
from server.protocol import HttpProtocol
from tests.conftest import GATEWAY_KEY, PROFILE, profile_env
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import ROOT

OURS = ("core.", "server.", "providers.", "uvicorn.")
PACKAGES = ("core", "server", "providers")


@pytest.fixture
def served(upstream: FakeOpenAI, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, uvicorn.Server]]:
    for name, value in profile_env(upstream).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE)
    config = uvicorn.Config(create_app(load_profile(str(path))), host="127.0.0.1", port=0, http=HttpProtocol,
                            loop="asyncio", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1", server
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def in_process(served: tuple[str, uvicorn.Server]) -> str:
    return served[0]


def _ours(thing: object) -> str | None:
    """What ``thing`` is if our code made it: an instance of our classes, or our function, method or coroutine."""
    kind = type(thing)
    if kind.__module__.startswith(OURS):
        return f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(thing, types.FunctionType | types.MethodType | types.CoroutineType):
        code = thing.cr_code if isinstance(thing, types.CoroutineType) else thing.__func__.__code__ \
            if isinstance(thing, types.MethodType) else thing.__code__
        where = Path(code.co_filename)
        if where.is_relative_to(ROOT) and where.relative_to(ROOT).parts[0] in PACKAGES:
            return f"{kind.__name__} {code.co_qualname}"
    return None


def _calls(sdk: openai.OpenAI) -> None:
    sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Say hello"}])
    list(sdk.chat.completions.create(model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}],
                                     stream=True, stream_options={"include_usage": True}))
    sdk.embeddings.create(model="embed", input=["one", "two"])


def test_chat_streams_and_embeddings_leave_no_cycles(in_process: str) -> None:
    with openai.OpenAI(base_url=in_process, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        _calls(sdk)  # first calls: connections, caches
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable stays in gc.garbage to be looked at
    try:
        with openai.OpenAI(base_url=in_process, api_key=GATEWAY_KEY, max_retries=0) as sdk:
            for _ in range(10):
                _calls(sdk)
        time.sleep(0.2)  # the settlements after the answers; the server sees its client connections close
        gc.collect()
        left = sorted({name for o in gc.garbage if (name := _ours(o))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


def test_a_model_calls_task_leaves_uvicorns_task_set_as_it_ends(served: tuple[str, uvicorn.Server]) -> None:
    # It takes itself out (no done callback, which would cost a turn of the loop): answered, streamed, or cancelled
    # because its client left; a set that kept them would make every graceful shutdown wait out its timeout.
    url, server = served
    with openai.OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        _calls(sdk)
    with openai.OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model="up/fault-slow-stream-0.05", stream=True,
                                             messages=[{"role": "user", "content": "Hi"}])
        next(iter(stream))
        assert server.server_state.tasks  # the stream's task, still running
        stream.close()  # the client leaves half-way
    deadline = time.monotonic() + 5
    while server.server_state.tasks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.server_state.tasks
