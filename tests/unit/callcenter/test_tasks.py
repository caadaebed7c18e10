"""Background tasks: held until they end, and the three stop rules (cancel, drain, wait)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.tasks import BackgroundTasks


async def _sleep(seconds: float, done: list[str], name: str) -> None:
    await asyncio.sleep(seconds)
    done.append(name)


async def test_finished_tasks_are_let_go() -> None:
    tasks = BackgroundTasks("t")
    done: list[str] = []
    task = tasks.spawn(_sleep(0, done, "a"), "a")
    assert task.get_name() == "t:a" and len(tasks) == 1
    await task
    assert len(tasks) == 0 and done == ["a"]


async def test_cancel_all_stops_everything_and_waits_for_it() -> None:
    tasks = BackgroundTasks("t")
    done: list[str] = []
    running = [tasks.spawn(_sleep(10, done, str(n))) for n in range(3)]
    await tasks.cancel_all()
    assert all(t.cancelled() for t in running) and len(tasks) == 0 and done == []


async def test_drain_lets_quick_tasks_finish_and_cancels_the_slow() -> None:
    tasks = BackgroundTasks("t")
    done: list[str] = []
    quick = tasks.spawn(_sleep(0.01, done, "quick"))
    slow = tasks.spawn(_sleep(10, done, "slow"))
    await tasks.drain(within=1)
    assert quick.done() and not quick.cancelled() and slow.cancelled()
    assert done == ["quick"] and len(tasks) == 0


async def test_wait_cancels_nothing() -> None:
    tasks = BackgroundTasks("t")
    done: list[str] = []
    slow = tasks.spawn(_sleep(0.2, done, "slow"))
    assert await tasks.wait(within=0.01) is False
    assert not slow.done()
    assert await tasks.wait() is True
    assert done == ["slow"]


async def test_a_failure_is_logged_by_type_never_by_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "patient " + "555-0142"

    async def fail() -> None:
        raise ValueError(secret)  # the frames show this line, never the value

    tasks = BackgroundTasks("t")
    with caplog.at_level(logging.ERROR, logger="callcenter.tasks"):
        tasks.spawn(fail(), "lookup")
        await tasks.wait()
        await asyncio.sleep(0)  # the done callback runs on the next loop turn
    assert "t:lookup failed: ValueError" in caplog.text
    assert "555-0142" not in caplog.text


async def test_an_owner_may_log_failures_its_own_way() -> None:
    seen: list[str] = []
    tasks = BackgroundTasks("t", on_error=lambda task, exc: seen.append(type(exc).__name__))

    async def fail() -> None:
        raise KeyError("x")

    tasks.spawn(fail())
    await tasks.wait()
    await asyncio.sleep(0)
    assert seen == ["KeyError"]
