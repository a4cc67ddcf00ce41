"""Coarse timers: every timeout of a loop on one loop timer that ticks while any is set.

Each request sets timers that almost never fire (the upstream read timeout, the disconnect watcher's delay, the
keep-alive timeout of the client's connection) and cancels them a millisecond later. With uvloop each is a libuv
timer, started and stopped: ~2 us, a few per request, 8% of a fast call's throughput (A/B, bench/PROFILE.md).
Here a timer is an entry in the set of the :data:`RESOLUTION_S` slot its deadline falls in, and cancelling it
takes it out again; one loop timer ticks every :data:`RESOLUTION_S` while there are entries and runs the callbacks
of the slots that have passed. A callback runs up to :data:`RESOLUTION_S` (plus the loop's own delay) after its
deadline, never before: for timeouts of seconds that is what a timer-per-timeout would do.

A timeout that a long-lived owner sets again and again (a connection's keep-alive or read timeout, once per request)
is a :class:`Deadline`: it stays in its slot, arming and disarming it only store a time, and the tick moves it to a
later slot when its slot comes while it is armed for later. That is a set operation every few seconds per
connection instead of a timer made and cancelled per request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["RESOLUTION_S", "Deadline", "Timer", "Wheel", "wheel"]

RESOLUTION_S = 0.05
log = logging.getLogger("model_runtime")


class Timer:
    """One pending callback (:meth:`Wheel.call_later`); :meth:`cancel` it when its wait ended otherwise."""

    __slots__ = ("_args", "_callback", "_number", "_slot", "_slots")

    def __init__(self, slots: dict[int, set[Timer | Deadline]], number: int, callback: Callable[..., object],
                 args: tuple[Any, ...]) -> None:
        slot = slots.get(number)
        if slot is None:
            slot = slots[number] = set()
        slot.add(self)
        self._slot: set[Timer | Deadline] | None = slot
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

    def _due(self, number: int, resolution_s: float) -> None:
        if self._slot is None:  # cancelled by a callback before it
            return
        self._slot = None
        self._callback(*self._args)


class Deadline:
    """A timeout its owner sets (:meth:`arm`) and lifts (:meth:`disarm`) again and again; ``callback(*args)`` runs
    once an armed deadline has passed (and lifts it). Make one with :meth:`Wheel.deadline`."""

    __slots__ = ("_args", "_callback", "_slot", "_wheel", "at")

    def __init__(self, wheel: Wheel, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._wheel, self._callback, self._args = wheel, callback, args
        self.at = math.inf
        """The loop time it runs after; ``inf`` when not armed."""
        self._slot = 0
        """The slot it is in (0: none)."""

    def arm(self, delay_s: float) -> None:
        """Run the callback once ``delay_s`` seconds from now have passed, unless armed again or disarmed before."""
        self._wheel._arm(self, delay_s)

    def disarm(self) -> None:
        self.at = math.inf

    def close(self) -> None:
        """For an owner that is done (a closed connection): disarmed for good, out of the wheel (which would hold
        it until its slot came), and without its callback (a bound method of the owner, which holds this: a
        reference cycle left to the garbage collector otherwise)."""
        self.at = math.inf
        self._callback, self._args = _nothing, ()
        if self._slot:
            self._wheel._remove(self)

    def _due(self, number: int, resolution_s: float) -> None:
        if self._slot != number:  # moved to another slot since this one was taken out to run
            return
        self._slot = 0
        at = self.at
        if at == math.inf:
            return
        later = int(at / resolution_s) + 1
        if later > number:  # armed again since it was put here: on to its slot
            self._wheel._put(self, later)
            return
        self.at = math.inf
        self._callback(*self._args)


def _nothing() -> None:
    pass


class Wheel:
    """The coarse timers of one event loop (get it with :func:`wheel`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution_s: float = RESOLUTION_S) -> None:
        # weakly: the wheels are kept by loop in a WeakKeyDictionary, and a value holding its key keeps it alive
        self._loop_ref, self._resolution_s = weakref.ref(loop), resolution_s
        self._slots: dict[int, set[Timer | Deadline]] = {}
        self._done = 0
        """Every slot up to this one has run."""
        self._tick: asyncio.TimerHandle | None = None

    def call_later(self, delay_s: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run ``callback(*args)`` once ``delay_s`` seconds have passed (up to :data:`RESOLUTION_S` later)."""
        if delay_s == math.inf:  # never: a timer nothing holds
            return Timer({}, 0, callback, args)
        # its slot starts after the deadline: never early (a negative delay: the next slot)
        number = int((self._now() + max(delay_s, 0.0)) / self._resolution_s) + 1
        return Timer(self._slots, number, callback, args)

    def deadline(self, callback: Callable[..., object], *args: Any) -> Deadline:
        """A :class:`Deadline` that runs ``callback(*args)``, not yet armed."""
        return Deadline(self, callback, args)

    def _arm(self, deadline: Deadline, delay_s: float) -> None:
        if delay_s == math.inf:
            deadline.at = math.inf
            return
        deadline.at = at = self._now() + max(delay_s, 0.0)
        number = int(at / self._resolution_s) + 1
        slot = deadline._slot
        # Not in a slot; or in a later one (it would run late); or in one that was dropped (a callback there raised
        # a BaseException, and the slot's other entries never ran).
        if not slot or number < slot or deadline not in self._slots.get(slot, ()):
            if slot:
                self._remove(deadline)
            self._put(deadline, number)

    def _put(self, deadline: Deadline, number: int) -> None:
        slot = self._slots.get(number)
        if slot is None:
            slot = self._slots[number] = set()
        slot.add(deadline)
        deadline._slot = number

    def _remove(self, deadline: Deadline) -> None:
        slot = self._slots.get(deadline._slot)
        if slot is not None:
            slot.discard(deadline)
            if not slot:
                del self._slots[deadline._slot]
        deadline._slot = 0

    def _now(self) -> float:
        """The loop's time, with the tick started."""
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("this wheel's event loop is gone")
        now = loop.time()
        if self._tick is None:
            self._done = int(now / self._resolution_s)
            self._tick = loop.call_later(self._resolution_s, self._run)
        return now

    def _run(self) -> None:
        loop = self._loop_ref()
        if loop is None:
            return
        due = int(loop.time() / self._resolution_s)
        try:
            for number in range(self._done + 1, due + 1):
                self._done = number
                for entry in list(self._slots.pop(number, ())):
                    try:
                        entry._due(number, self._resolution_s)
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
