"""The enrolment loop: running campaigns take in new appointments and patients as they come.

Every ``outbound.enrol_seconds`` (and once at start) :class:`EnrolmentService` enrols what
qualified since the last sweep and withdraws reminders of cancelled appointments; the work and
its cross-process safety are hcrm_core's (:mod:`hcrm_core.services.campaigns_enrolment`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hcrm_core.errors import StorageUnavailable
from hcrm_core.services.campaigns_enrolment import EnrolmentService
from hcrm_core.services.leadership import Fence, Fenced

_LOG = logging.getLogger(__name__)


class EnrolmentLoop:
    def __init__(self, service: EnrolmentService, interval_seconds: float) -> None:
        self._service = service
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None
        self._fence: Fence | None = None

    async def start(self, fence: Fence | None = None) -> None:
        """Sweep from now on; with several processes only the leader does, each sweep
        fenced by its epoch (``fence``)."""
        self._fence = fence
        self._task = asyncio.get_running_loop().create_task(self._run(), name="enrolment")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._service.sweep(fence=self._fence)
            except Fenced as exc:
                _LOG.warning("enrolment stopped, not the leader: %s", exc.message)
                return
            except StorageUnavailable as exc:
                _LOG.warning("enrolment paused: %s", exc.message)
            except Exception:
                # The next sweep finds whatever this one missed: nothing is lost by waiting.
                _LOG.exception("enrolment sweep failed")
            await asyncio.sleep(self._interval)
