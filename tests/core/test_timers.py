"""core/timers.py: coarse timers run once, never before their deadline, not at all once cancelled."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from core.timers import RESOLUTION_S, Wheel, wheel


def test_callbacks_run_after_their_deadline_in_order_of_slots_and_cancelled_ones_never() -> None:
    async def scenario() -> tuple[list[tuple[str, float]], dict[str, float]]:
        loop = asyncio.get_running_loop()
        ran: list[tuple[str, float]] = []
        due: dict[str, float] = {}
        timers = wheel()
        for name, delay in (("later", 0.17), ("soon", 0.02), ("zero", 0.0), ("cancelled", 0.02)):
            due[name] = loop.time() + delay
            timer = timers.call_later(delay, lambda n: ran.append((n, loop.time())), name)
            if name == "cancelled":
                timer.cancel()
                assert timer.cancelled()
        await asyncio.sleep(0.17 + 3 * RESOLUTION_S)
        return ran, due

    ran, due = asyncio.run(scenario())
    assert {name for name, _ in ran[:2]} == {"zero", "soon"} and ran[2][0] == "later" and len(ran) == 3
    assert all(at >= due[name] for name, at in ran)


def test_a_callback_may_cancel_another_of_its_slot_and_one_that_fails_stops_no_other(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        ran: list[str] = []
        timers = Wheel(asyncio.get_running_loop(), resolution_s=0.2)  # all four in one slot
        second = None

        def first() -> None:
            ran.append("first")
            assert second is not None
            second.cancel()

        def failing() -> None:
            ran.append("failing")
            raise RuntimeError("boom")

        timers.call_later(0.0, failing)
        timers.call_later(0.0, first)
        second = timers.call_later(0.0, ran.append, "second")
        timers.call_later(0.0, ran.append, "third")
        await asyncio.sleep(0.5)
        return ran

    ran = asyncio.run(scenario())
    assert "failing" in ran and "third" in ran and ran.count("first") == 1
    if "second" in ran:  # a slot's callbacks run in no set order: "second" only before "first" cancelled it
        assert ran.index("second") < ran.index("first")
    assert "a timer's callback failed" in caplog.text


def test_the_tick_stops_once_nothing_is_pending_and_each_loop_has_its_own_wheel() -> None:
    async def scenario() -> tuple[Wheel, bool]:
        timers = wheel()
        timers.call_later(0.01, lambda: None).cancel()
        timers.call_later(0.01, lambda: None)
        await asyncio.sleep(4 * RESOLUTION_S)
        return timers, timers._tick is None and not timers._slots

    first, stopped = asyncio.run(scenario())
    second, _ = asyncio.run(scenario())
    assert stopped and first is not second


def test_an_endless_delay_sets_nothing() -> None:
    async def scenario() -> bool:
        timers = Wheel(asyncio.get_running_loop())
        timer = timers.call_later(float("inf"), lambda: None)
        timer.cancel()
        return timers._tick is None and not timers._slots and timer.cancelled()

    assert asyncio.run(scenario())


class _Stop(BaseException):
    pass


def test_a_callback_raising_a_base_exception_does_not_stop_the_other_timers() -> None:
    loop = asyncio.new_event_loop()
    try:
        timers = Wheel(loop)
        ran: list[str] = []

        def stop() -> None:
            raise _Stop

        timers.call_later(0.0, stop)
        timers.call_later(3 * RESOLUTION_S, ran.append, "later")
        loop.set_exception_handler(lambda loop, context: None)  # asyncio reports what a callback raised
        loop.run_until_complete(asyncio.sleep(6 * RESOLUTION_S))
        assert ran == ["later"]
    finally:
        loop.close()


def test_cancelling_empties_its_slot_a_negative_delay_runs_and_a_loop_is_not_kept_alive() -> None:
    async def scenario() -> tuple[bool, list[str]]:
        timers = wheel()
        timers.call_later(5.0, lambda: None).cancel()
        emptied = not timers._slots
        ran: list[str] = []
        timers.call_later(-1.0, ran.append, "negative")
        await asyncio.sleep(3 * RESOLUTION_S)
        return emptied, ran

    loop = asyncio.new_event_loop()
    gone = weakref.ref(loop)
    assert loop.run_until_complete(scenario()) == (True, ["negative"])
    loop.close()
    del loop
    gc.collect()
    assert gone() is None


def test_a_deadline_runs_once_after_its_latest_arming_and_never_when_disarmed() -> None:
    async def scenario() -> tuple[list[tuple[str, float]], dict[str, float], bool]:
        loop = asyncio.get_running_loop()
        timers = wheel()
        ran: list[tuple[str, float]] = []
        due: dict[str, float] = {}
        deadlines = {name: timers.deadline(lambda n: ran.append((n, loop.time())), name)
                     for name in ("once", "rearmed", "disarmed", "sooner")}
        for deadline in deadlines.values():
            deadline.arm(0.1)
        deadlines["disarmed"].disarm()
        deadlines["sooner"].arm(0.0)  # moved to an earlier slot: runs there, once
        due["sooner"] = loop.time()
        due["once"] = loop.time() + 0.1
        await asyncio.sleep(0.05)
        deadlines["rearmed"].arm(0.2)  # its slot comes first: it moves on to the later one
        due["rearmed"] = loop.time() + 0.2
        await asyncio.sleep(0.25 + 3 * RESOLUTION_S)
        return ran, due, not timers._slots and timers._tick is None

    ran, due, emptied = asyncio.run(scenario())
    assert [name for name, _ in ran] == ["sooner", "once", "rearmed"]
    assert all(at >= due[name] for name, at in ran)
    assert emptied


def test_a_deadline_armed_again_by_its_callback_runs_again_and_a_closed_one_leaves_the_wheel() -> None:
    async def scenario() -> tuple[int, bool, bool]:
        timers = wheel()
        runs = 0

        def again() -> None:
            nonlocal runs
            runs += 1
            if runs < 3:
                repeating.arm(0.0)

        repeating = timers.deadline(again)
        repeating.arm(0.0)
        closed = timers.deadline(lambda: None)
        closed.arm(60.0)
        closed.close()
        gone = all(closed not in slot for slot in timers._slots.values())
        endless = timers.deadline(lambda: None)
        endless.arm(float("inf"))
        await asyncio.sleep(8 * RESOLUTION_S)
        return runs, gone, endless.at == float("inf") and not timers._slots

    assert asyncio.run(scenario()) == (3, True, True)


def test_deadlines_left_in_a_slot_a_base_exception_cut_short_are_slotted_again_when_armed() -> None:
    loop = asyncio.new_event_loop()
    try:
        timers = Wheel(loop)
        ran: list[int] = []
        deadlines = [timers.deadline(ran.append, n) for n in range(50)]

        def stop() -> None:
            raise _Stop

        timers.call_later(0.0, stop)
        for deadline in deadlines:  # the same slot as the callback that stops it: those after it never run
            deadline.arm(0.0)
        loop.set_exception_handler(lambda loop, context: None)
        loop.run_until_complete(asyncio.sleep(4 * RESOLUTION_S))
        first = len(ran)
        for deadline in deadlines:
            deadline.arm(0.0)
        loop.run_until_complete(asyncio.sleep(4 * RESOLUTION_S))
        assert len(ran) == first + 50
    finally:
        loop.close()
