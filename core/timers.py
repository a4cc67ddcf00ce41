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

    __slots__ = ("_args", "_callback", "_number", "_slot", "_slots")

    def __init__(self, slots: dict[int, set[Timer]], number: int, callback: Callable[..., object],
                 args: tuple[Any, ...]) -> None:
        slot = slots.get(number)
        if slot is None:
            slot = slots[number] = set()
        slot.add(self)
        self._slot: set[Timer] | None = slot
        self._slots, self._number = slots, number
        self._callback, self._args = callback, args

    def cancel(self) -> None:
        slot = self._slot
        if slot is not None:
            slot.discard(self)
            self._slot = None
            if not slot and self._slots.get(self._number) is slot:  # the last one there: the tick may stop sooner
                del self._slots[self._number]

    def cancelled(self) -> bool:
        """Whether it was cancelled or has run."""
        return self._slot is None


class Wheel:
    """The coarse timers of one event loop (get it with :func:`wheel`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution_s: float = RESOLUTION_S) -> None:
        # weakly: the wheels are kept by loop in a WeakKeyDictionary, and a value holding its key keeps it alive
        self._loop_ref, self._resolution_s = weakref.ref(loop), resolution_s
        self._slots: dict[int, set[Timer]] = {}
        self._done = 0
        """Every slot up to this one has run."""
        self._tick: asyncio.TimerHandle | None = None

    def call_later(self, delay_s: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` once ``delay_s`` seconds have passed (up to :data:`RESOLUTION_S` later)."""
        if delay_s == math.inf:  # never: a timer nothing holds
            return Timer({}, 0, callback, args)
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("this wheel's event loop is gone")
        now = loop.time()
        if self._tick is None:
            self._done = int(now / self._resolution_s)
            self._tick = loop.call_later(self._resolution_s, self._run)
        # its slot starts after the deadline: never early (a negative delay: the next slot)
        number = int((now + max(delay_s, 0.0)) / self._resolution_s) + 1
        return Timer(self._slots, number, callback, args)

    def _run(self) -> None:
        loop = self._loop_ref()
        if loop is None:
            return
        due = int(loop.time() / self._resolution_s)
        try:
            for number in range(self._done + 1, due + 1):
                self._done = number
                for timer in list(self._slots.pop(number, ())):
                    if timer._slot is None:  # cancelled by a callback before it
                        continue
                    timer._slot = None
                    try:
                        timer._callback(*timer._args)
                    except Exception:
                        log.exception("a timer's callback failed")
        finally:  # whatever a callback raised, the other timers keep their tick
            self._tick = loop.call_later(self._resolution_s, self._run) if self._slots else None


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Wheel] = weakref.WeakKeyDictionary()
_last: Wheel | None = None


def wheel(loop: asyncio.AbstractEventLoop | None = None) -> Wheel:
    """The :class:`Wheel` of ``loop`` (default: the running one)."""
    global _last
    loop = loop or asyncio.get_running_loop()
    if _last is not None and _last._loop_ref() is loop:  # a server runs one loop
        return _last
    found = _wheels.get(loop)
    if found is None:
        found = _wheels[loop] = Wheel(loop)
    _last = found
    return found
