"""Coarse timers: every timeout of a loop on one loop timer that ticks while any is set.

Each request sets timers that almost never fire (the upstream read timeout, the disconnect watcher's delay, the
keep-alive timeout of the client's connection) and cancels them a millisecond later. With uvloop each is a libuv
timer, started and stopped: ~2 us, a few per request, 8% of a fast call's throughput (A/B, bench/PROFILE.md).
Here a timer is an entry in the set of the :data:`RESOLUTION_S` slot its deadline falls in, and cancelling it
takes it out again; one loop timer ticks every :data:`RESOLUTION_S` while there are entries and runs the callbacks
of the slots that have passed. A callback runs up to :data:`RESOLUTION_S` (plus the loop's own delay) after its
deadline, never before: for timeouts of seconds that is what a timer-per-timeout would do.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["RESOLUTION_S", "Timer", "Wheel", "wheel"]

RESOLUTION_S = 0.05
log = logging.getLogger("model_runtime")


class Timer:
    """One pending callback (:meth:`Wheel.call_later`); :meth:`cancel` it when its wait ended otherwise."""

    __slots__ = ("_args", "_callback", "_slot")

    def __init__(self, slot: set[Timer], callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._slot: set[Timer] | None = slot
        self._callback, self._args = callback, args

    def cancel(self) -> None:
        if self._slot is not None:
            self._slot.discard(self)
            self._slot = None

    def cancelled(self) -> bool:
        """Whether it was cancelled or has run."""
        return self._slot is None


class Wheel:
    """The coarse timers of one event loop (get it with :func:`wheel`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution_s: float = RESOLUTION_S) -> None:
        self._loop, self._resolution_s = loop, resolution_s
        self._slots: dict[int, set[Timer]] = {}
        self._done = 0
        """Every slot up to this one has run."""
        self._tick: asyncio.TimerHandle | None = None

    def call_later(self, delay_s: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` once ``delay_s`` seconds have passed (up to :data:`RESOLUTION_S` later)."""
        if delay_s == math.inf:  # never: a timer nothing holds
            return Timer(set(), callback, args)
        now = self._loop.time()
        if self._tick is None:
            self._done = int(now / self._resolution_s)
            self._tick = self._loop.call_later(self._resolution_s, self._run)
        number = int((now + delay_s) / self._resolution_s) + 1  # its start is after the deadline: never early
        slot = self._slots.get(number)
        if slot is None:
            slot = self._slots[number] = set()
        timer = Timer(slot, callback, args)
        slot.add(timer)
        return timer

    def _run(self) -> None:
        due = int(self._loop.time() / self._resolution_s)
        for number in range(self._done + 1, due + 1):
            for timer in list(self._slots.pop(number, ())):
                if timer._slot is None:  # cancelled by a callback before it
                    continue
                timer._slot = None
                try:
                    timer._callback(*timer._args)
                except Exception:
                    log.exception("a timer's callback failed")
        self._done = max(self._done, due)
        self._tick = self._loop.call_later(self._resolution_s, self._run) if self._slots else None


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Wheel] = weakref.WeakKeyDictionary()
_last: Wheel | None = None


def wheel(loop: asyncio.AbstractEventLoop | None = None) -> Wheel:
    """The :class:`Wheel` of ``loop`` (default: the running one)."""
    global _last
    loop = loop or asyncio.get_running_loop()
    if _last is not None and _last._loop is loop:  # a server runs one loop
        return _last
    found = _wheels.get(loop)
    if found is None:
        found = _wheels[loop] = Wheel(loop)
    _last = found
    return found
