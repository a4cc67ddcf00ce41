"""Inference off the event loop: one worker thread per model, behind a bounded queue.

A :class:`ModelSlot` owns one model of this process. Its thread loads the model (at the first call, or at start
when asked) and then runs every call to it one at a time, so the event loop never waits on inference: llama.cpp
and numpy release the GIL while they compute. Calls beyond ``queue_size`` waiting ones are refused at once with a
503 (``local_queue_full``) instead of piling up. Slots are kept per process (:func:`slot`), so a reloaded profile
reuses the loaded models: one instance of each model per process, as a worker process of the server is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from core import errors

__all__ = ["ModelSlot", "ThreadStream", "slot"]

M = TypeVar("M")
T = TypeVar("T")

_SLOTS: dict[str, ModelSlot[Any]] = {}
"""Every model slot of this process by model name: process-wide on purpose, so a model is loaded once."""
_SLOTS_LOCK = threading.Lock()


def slot(name: str, load: Callable[[], M], queue_size: int) -> ModelSlot[M]:
    """The process's slot for model ``name``, created on first use (later callers share it and its queue)."""
    with _SLOTS_LOCK:
        found = _SLOTS.get(name)
        if found is None:
            found = _SLOTS[name] = ModelSlot(name, load, queue_size)
        return found


class ModelSlot(Generic[M]):
    """One model: loaded once in its own thread, which then serves its calls in order."""

    def __init__(self, name: str, load: Callable[[], M], queue_size: int) -> None:
        self.name, self.queue_size = name, queue_size
        self._load = load
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"local-{name}")
        self._model: M | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._started = False
        self.load_s: float | None = None
        """Seconds the model took to load, once it has."""
        self.failure: str | None = None
        """Why loading failed, if it did (it is tried again at the next call)."""

    def status(self) -> dict[str, Any]:
        """For ``/health/ready``: ``not_loaded``, ``loading``, ``loaded`` (with ``load_s``) or ``failed``."""
        if self._model is not None:
            return {"status": "loaded", "load_s": round(self.load_s or 0.0, 3), "queued": self._pending}
        if self.failure is not None:
            return {"status": "failed", "reason": self.failure}
        return {"status": "loading" if self._started else "not_loaded"}

    def start(self) -> None:
        """Load the model now, in its thread, without waiting for it."""
        with self._lock:
            if not self._started:
                self._started = True
                self._executor.submit(self._loaded)

    async def run(self, call: Callable[[M], T]) -> T:
        """``call(model)`` in the model's thread, once the calls queued before it are done."""
        future = self._submit(lambda: call(self._loaded()))
        return await asyncio.wrap_future(future)

    async def stream(self, produce: Callable[[M], Iterator[T]]) -> ThreadStream[T]:
        """``produce(model)`` iterated in the model's thread, its items handed over as they come; returned once the
        first item (or the failure before it) arrived, so a call that cannot start is an error, not a stream."""
        stream: ThreadStream[T] = ThreadStream(asyncio.get_running_loop())
        self._submit(lambda: stream.fill(lambda: produce(self._loaded())))
        try:
            await stream.wait_first()
        except BaseException:
            stream.close()
            raise
        return stream

    def _submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._pending > self.queue_size:
                raise errors.UpstreamUnavailableError(
                    f"The local model '{self.name}' is busy: {self.queue_size} requests are already waiting for it. "
                    "Try again shortly, or raise queue_size for this provider instance in the profile.",
                    code="local_queue_full", retry_after=1)
            self._pending += 1
            self._started = True
        future = self._executor.submit(job)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    def _loaded(self) -> M:
        """The model, loaded first if need be (in the model's thread only)."""
        if self._model is None:
            started = time.perf_counter()
            try:
                self._model = self._load()
            except Exception as exc:
                self.failure = f"{type(exc).__name__}: {exc}"
                raise
            self.load_s, self.failure = time.perf_counter() - started, None
        return self._model


_END = object()


class ThreadStream(Generic[T]):
    """Items produced in a worker thread, read in the event loop; :meth:`close` stops the producer at its next
    item (a client that went away frees the model)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stopped = threading.Event()
        self._first: T | object | None = None

    def fill(self, start: Callable[[], Iterator[T]]) -> None:
        """Run in the worker thread: start the items (loading the model may fail: that failure is handed over too,
        so the reader never waits for a stream that cannot come), hand every item over, then the end."""
        if self._stopped.is_set():  # the reader left while this waited in the queue: no prompt pass for nobody
            return
        items: Iterator[T] = iter(())
        try:
            items = start()
            for item in items:
                if self._stopped.is_set():
                    break
                self._put(item)
        except BaseException as exc:  # handed over: the reader raises it in the event loop
            self._put(exc)
        else:
            self._put(_END)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (shutdown): nobody reads any more
            self._stopped.set()

    async def wait_first(self) -> None:
        """Wait for the first item; raise the failure that came instead."""
        self._first = await self._take()

    async def _take(self) -> T | object:
        item: T | object = await self._queue.get()
        if isinstance(item, BaseException):
            self._stopped.set()
            raise item
        return item

    async def __anext__(self) -> T:
        item = self._first if self._first is not None else await self._take()
        self._first = None
        if item is _END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]  # anything but _END is a T

    def __aiter__(self) -> ThreadStream[T]:
        return self

    def close(self) -> None:
        """Stop the producer at its next item."""
        self._stopped.set()
