"""Wiring of the recording slice: the service, its bus consumer and the processor.

Started by the server's composition root (``callcenter.server.root``) before the AMI bridge
connects, and stopped in reverse order. Unlike the other slices, :func:`start` takes the whole
:class:`~callcenter.settings.Settings`: the service and the processor read the ``[recording]``
and ``[asterisk]`` sections and the data directory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.recording.bus_consume import RecordingEvents
from callcenter.recording.processor import RecordingProcessor, make_pool
from callcenter.recording.services import RecordingService
from callcenter.settings import Settings
from hcrm_core.db import Database


@dataclass(slots=True)
class Recordings:
    service: RecordingService
    events: RecordingEvents
    processor: RecordingProcessor
    sweep: asyncio.Task[int]

    async def stop(self) -> None:
        await self.events.stop()
        if not self.sweep.done():
            self.sweep.cancel()
        await asyncio.gather(self.sweep, return_exceptions=True)
        await self.processor.stop()
        self.processor.executor.shutdown(wait=False, cancel_futures=True)


async def start(
    settings: Settings, *, bus: EventBus, ami: AmiBridge, database: Database, process: bool = True
) -> Recordings:
    """Subscribe to recording events (before AMI connects) and start the processor."""
    pool = make_pool(settings)
    processor = RecordingProcessor(
        settings, database, pool, pool_factory=lambda: make_pool(settings)
    )
    service = RecordingService(settings, database, ami, on_queued=processor.wake)
    events = RecordingEvents(bus, service)
    await events.start()
    # Recordings left open by a previous run: closed in the background (files are waited for).
    sweep = asyncio.create_task(service.close_leftovers(), name="recordings-sweep")
    if process:
        await processor.start()
    return Recordings(service, events, processor, sweep)
