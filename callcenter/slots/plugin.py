"""The slot horizon kept by the server: ``extend()`` at start-up and every night at
``booking.nightly_at`` (hospital time, default 02:00).

The work is :class:`~hcrm_core.services.slot_keeper.SlotKeeper`'s; this part only decides
when. The start-up run is awaited (a second or two for 30 doctors when the horizon is already
there; a few more on a first install), so the parts started after it, the IVR and the console,
never offer a horizon about to change; the nightly runs are a background task.

Several server processes (issue 18): each extends at its start (idempotent: the slots are
inserted with ``ON CONFLICT DO NOTHING``), but the nightly job runs on the leader only
(:meth:`SlotHorizon.start_nightly` when it wins, :meth:`SlotHorizon.stop_nightly` when it
loses), its extension fenced by the leader's epoch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import time

from callcenter.settings import BookingSettings
from callcenter.tasks import BackgroundTasks
from hcrm_core.errors import DomainError
from hcrm_core.services.leadership import Fence, Fenced
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
        self._fence: Fence | None = None

    async def start(self, *, nightly: bool = True) -> None:
        """The start-up extension, then the nightly job unless ``nightly`` is False (the
        server starts it as the leader's: :meth:`start_nightly`)."""
        await self.run_once("start-up")
        if nightly:
            await self.start_nightly()

    async def start_nightly(self, fence: Fence | None = None) -> None:
        self._fence = fence
        self._tasks.spawn(self.run_nightly(), "nightly")

    async def stop_nightly(self) -> None:
        await self._tasks.cancel_all()

    async def stop(self) -> None:
        await self.stop_nightly()

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
            try:
                await self.run_once("nightly")
            except Fenced as exc:
                _LOG.warning("nightly slot horizon stopped, not the leader: %s", exc.message)
                return

    async def run_once(self, why: str) -> int:
        """One extension; a failure is logged and the next night tries again."""
        try:
            if self._fence is None:
                created = await self._keeper.extend()
            else:
                created = await self._keeper.extend(fence=self._fence)
        except Fenced:
            raise  # deposed: the nightly loop ends (the new leader runs its own)
        except DomainError as exc:
            # The database away (StorageUnavailable) at 02:00 must not end the nightly job.
            _LOG.warning("slot horizon (%s) not extended: %s", why, exc.code)
            return 0
        self.runs += 1
        self.created += created
        _LOG.info("slot horizon (%s): %d slots created", why, created)
        return created


async def start(
    settings: BookingSettings, *, keeper: SlotKeeper, nightly: bool = True
) -> SlotHorizon:
    """Extend the horizon now, then keep it every night at ``settings.nightly_at`` (with
    ``nightly`` False, from the handle's ``start_nightly()``: the leader's); the handle's
    ``stop()`` cancels the job (an extension cut short rolls back whole: it is one
    transaction)."""
    horizon = SlotHorizon(keeper, at=settings.nightly_time())
    await horizon.start(nightly=nightly)
    return horizon
