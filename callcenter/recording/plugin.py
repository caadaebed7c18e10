"""Wiring of the recording slice: the service, its bus consumer and the processor.

Started by the server's composition root (``callcenter.server.root``) before the AMI bridge
connects, and stopped in reverse order. Like the other slices, :func:`start` takes its own
``[recording]`` section; besides it, the slice needs the ``[asterisk]`` section (where Asterisk
writes the recordings and where this server finds them) and the data directory (the default
home of the processed files), passed explicitly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.recording.bus_consume import RecordingEvents
from callcenter.recording.processor import RecordingProcessor, make_pool
from callcenter.recording.services import RecordingService
from callcenter.settings import AsteriskSettings, RecordingSettings
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
    settings: RecordingSettings,
    *,
    asterisk: AsteriskSettings,
    data_dir: Path,
    bus: EventBus,
    ami: AmiBridge,
    database: Database,
    process: bool = True,
) -> Recordings:
    """Subscribe to recording events (before AMI connects) and start the processor.

    ``asterisk`` maps recording files between Asterisk and this server; processed files go
    under ``data_dir`` unless ``settings.processed_dir`` says otherwise. With ``process`` off
    the processor does not run: jobs stay queued (for ``callcenter recordings process``).
    """
    pool = make_pool(settings)
    processor = RecordingProcessor(
        settings,
        database,
        pool,
        asterisk=asterisk,
        data_dir=data_dir,
        pool_factory=lambda: make_pool(settings),
    )
    service = RecordingService(asterisk, database, ami, on_queued=processor.wake)
    events = RecordingEvents(bus, service)
    await events.start()
    # Recordings left open by a previous run: closed in the background (files are waited for).
    sweep = asyncio.create_task(service.close_leftovers(), name="recordings-sweep")
    if process:
        await processor.start()
    return Recordings(service, events, processor, sweep)
