"""The model slot: inference in its own thread, a bounded queue, load state, streams stopped by their reader."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterator

import pytest

from core import errors
from providers.local.worker import ModelSlot


class Model:
    """A stand-in model whose calls block their thread until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.produced = 0

    def slow(self, value: int) -> int:
        assert self.release.wait(5)
        return value

    def tokens(self) -> Iterator[str]:
        for i in range(1000):
            self.produced += 1
            time.sleep(0.001)
            yield f"t{i}"


async def test_calls_run_off_the_event_loop_in_order() -> None:
    model = Model()
    slot = ModelSlot("m", lambda: model, queue_size=4)
    calls = [asyncio.ensure_future(slot.run(functools.partial(Model.slow, value=i))) for i in range(3)]
    await asyncio.sleep(0.05)  # the loop keeps running while the model's thread is blocked
    assert not any(call.done() for call in calls)
    model.release.set()
    assert list(await asyncio.gather(*calls)) == [0, 1, 2]
    assert slot.status()["status"] == "loaded" and slot.status()["queued"] == 0


async def test_a_full_queue_refuses_at_once() -> None:
    model = Model()
    slot = ModelSlot("m", lambda: model, queue_size=1)
    running = asyncio.ensure_future(slot.run(lambda m: m.slow(1)))
    waiting = asyncio.ensure_future(slot.run(lambda m: m.slow(2)))
    await asyncio.sleep(0.01)
    with pytest.raises(errors.UpstreamUnavailableError) as caught:
        await slot.run(lambda m: m.slow(3))
    assert caught.value.code == "local_queue_full" and caught.value.status == 503 and "busy" in caught.value.message
    model.release.set()
    assert list(await asyncio.gather(running, waiting)) == [1, 2]
    assert await slot.run(lambda m: m.slow(4)) == 4  # room again


async def test_load_failure_is_reported_and_retried() -> None:
    attempts: list[int] = []

    def load() -> Model:
        attempts.append(1)
        if len(attempts) == 1:
            raise FileNotFoundError("weights missing")
        return Model()

    slot = ModelSlot("m", load, queue_size=1)
    assert slot.status() == {"status": "not_loaded"}
    with pytest.raises(FileNotFoundError):
        await slot.run(lambda m: m.produced)
    assert slot.status() == {"status": "failed", "reason": "FileNotFoundError: weights missing"}
    assert await slot.run(lambda m: m.produced) == 0
    assert slot.status()["status"] == "loaded" and slot.load_s is not None


async def test_a_closed_stream_stops_its_producer() -> None:
    model = Model()
    slot = ModelSlot("m", lambda: model, queue_size=0)
    stream = await slot.stream(lambda m: m.tokens())
    assert [await anext(stream) for _ in range(3)] == ["t0", "t1", "t2"]
    stream.close()
    await asyncio.sleep(0.1)
    assert model.produced < 1000
    assert await slot.run(lambda m: m.produced) < 1000  # the thread is free for the next call


async def test_a_stream_that_fails_before_its_first_item_raises() -> None:
    def broken(model: Model) -> Iterator[str]:
        raise ValueError("Requested tokens exceed context window")
        yield ""

    slot = ModelSlot("m", Model, queue_size=0)
    with pytest.raises(ValueError, match="context window"):
        await slot.stream(broken)


async def test_a_stream_whose_model_cannot_load_raises_instead_of_waiting() -> None:
    def load() -> Model:
        raise FileNotFoundError("weights missing")

    slot = ModelSlot("m", load, queue_size=0)
    with pytest.raises(FileNotFoundError):
        await asyncio.wait_for(slot.stream(lambda m: m.tokens()), 5)
    assert slot.status()["status"] == "failed"
