"""Background tasks a long-lived object spawns and must account for when it stops.

asyncio keeps only a weak reference to a task: one nobody holds may be collected mid-flight.
:class:`BackgroundTasks` holds them until they finish and says, at stop, what happens to the
ones still running. Each owner states its rule by the method it calls:

- :meth:`BackgroundTasks.cancel_all`: cancel them and wait until they have unwound (work that
  is worthless once the owner stops: a resync, a screen pop, a demo caller);
- :meth:`BackgroundTasks.drain`: let them finish for up to ``within`` seconds, then cancel the
  rest (work whose result matters: a patient lookup that completes a call's record);
- :meth:`BackgroundTasks.wait`: let them finish for up to ``within`` seconds and cancel
  nothing (work that must not be cut off half-way; what is left runs on).

A task that fails is logged when it ends, by its exception's type and stack frames only (the
message may carry patient data), so its exception is never left unretrieved; the owner may pass
``on_error`` to log it its own way.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

_LOG = logging.getLogger(__name__)

ErrorHandler = Callable[[asyncio.Task[Any], BaseException], None]


def _log_failure(task: asyncio.Task[Any], exc: BaseException) -> None:
    # The message may quote SQL parameters or a caller's number: its type and frames only.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    _LOG.error("background task %s failed: %s\n%s", task.get_name(), type(exc).__name__, frames)


class BackgroundTasks:
    """The running tasks of one owner; see the module docstring for the stop rules."""

    def __init__(self, name: str, *, on_error: ErrorHandler = _log_failure) -> None:
        self.name = name
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` as a task held here until it ends (named ``<owner>:<name>``)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name or 'task'}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._on_error(task, exc)

    async def wait(self, within: float | None = None) -> bool:
        """Wait for the tasks running now, up to ``within`` seconds (None: no limit); cancel
        nothing. True when all of them finished."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(tuple(self._tasks), timeout=within)
        return not pending

    async def drain(self, within: float) -> None:
        """Let the tasks running now finish for up to ``within`` seconds, then cancel the rest
        and wait until they have unwound."""
        if not await self.wait(within):
            await self.cancel_all()

    async def cancel_all(self) -> None:
        """Cancel every task and wait until they have unwound (their errors are not raised)."""
        tasks = tuple(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
