"""The slot horizon kept by the server: ``extend()`` at start-up and every night at
``booking.nightly_at`` (hospital time, default 02:00).

The work is :class:`~hcrm_core.services.slot_keeper.SlotKeeper`'s; this part only decides
when. The start-up run is awaited (a second or two for 30 doctors when the horizon is already
there; a few more on a first install), so the parts started after it, the IVR and the console,
never offer a horizon about to change; the nightly runs are a background task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import time

from callcenter.settings import BookingSettings
from callcenter.tasks import BackgroundTasks
from hcrm_core.errors import DomainError
from hcrm_core.services.slot_keeper import NIGHTLY_AT, SlotKeeper, next_nightly_run

_LOG = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class SlotHorizon:
    """Runs ``keeper.extend()`` once now, then every night at ``at`` (hospital-local)."""

    def __init__(
        self,
        keeper: SlotKeeper,
        *,
        at: time = NIGHTLY_AT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._keeper = keeper
        self._at = at
        self._sleep = sleep
        self._tasks = BackgroundTasks("slot-horizon")
        self.runs = 0
        self.created = 0

    async def start(self) -> None:
        await self.run_once("start-up")
        self._tasks.spawn(self.run_nightly(), "nightly")

    async def stop(self) -> None:
        await self._tasks.cancel_all()

    async def run_forever(self) -> None:
        """Extend now, then every night (what :meth:`start` does, in the caller's task)."""
        await self.run_once("start-up")
        await self.run_nightly()

    async def run_nightly(self) -> None:
        """Sleep until each next night's run and extend."""
        while True:
            now = self._keeper.now()
            due = next_nightly_run(now, self._keeper.policy.timezone, self._at)
            await self._sleep((due - now).total_seconds())
            await self.run_once("nightly")

    async def run_once(self, why: str) -> int:
        """One extension; a failure is logged and the next night tries again."""
        try:
            created = await self._keeper.extend()
        except DomainError as exc:
            # The database away (StorageUnavailable) at 02:00 must not end the nightly job.
            _LOG.warning("slot horizon (%s) not extended: %s", why, exc.code)
            return 0
        self.runs += 1
        self.created += created
        _LOG.info("slot horizon (%s): %d slots created", why, created)
        return created


async def start(settings: BookingSettings, *, keeper: SlotKeeper) -> SlotHorizon:
    """Extend the horizon now, then keep it every night at ``settings.nightly_at``; the
    handle's ``stop()`` cancels the job (an extension cut short rolls back whole: it is one
    transaction)."""
    horizon = SlotHorizon(keeper, at=settings.nightly_time())
    await horizon.start()
    return horizon
