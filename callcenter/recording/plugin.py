"""Wiring of the recording slice: the service, its bus consumer and the processor.

Started by the server's composition root (``callcenter.server.root``) before the AMI bridge
connects, and stopped in reverse order. Like the other slices, :func:`start` takes its own
``[recording]`` section; besides it, the slice needs the ``[asterisk]`` section (where Asterisk
writes the recordings and where this server finds them) and the data directory (the default
home of the processed files), passed explicitly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.recording.bus_consume import RecordingEvents
from callcenter.recording.keys import key_problem
from callcenter.recording.processor import RecordingProcessor, make_pool
from callcenter.recording.services import RecordingService
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.db import Database

_LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class Recordings:
    service: RecordingService
    events: RecordingEvents
    processor: RecordingProcessor
    sweep: asyncio.Task[int]
    processing: bool = False
    encrypted: bool = True
    # Why the processor was not started (a missing or wrong recording.key), or None.
    refused: str | None = None

    def health(self) -> Mapping[str, Any]:
        """For ``/healthz``: is the processor running, are new files encrypted, why not."""
        return {"processing": self.processing, "encrypted": self.encrypted, "error": self.refused}

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
    Nor does it when :func:`~callcenter.recording.keys.key_problem` finds the key missing or
    wrong for what is stored: logged, and reported by :meth:`Recordings.health`.
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
    handle = Recordings(service, events, processor, sweep)
    key = settings.key.get_secret_value()
    handle.encrypted = bool(key)
    handle.refused = await key_problem(key, database)
    if handle.refused is not None:
        _LOG.error("recording processor not started: %s", handle.refused)
    elif not key:
        _LOG.warning("recording.key is empty: processed recordings are stored unencrypted")
    if process and handle.refused is None:
        await processor.start()
        handle.processing = True
    return handle
