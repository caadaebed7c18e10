"""Wiring of live monitoring (listen, whisper, barge): the service on the AMI bridge.

The supervisor's phone is dialled with ``recording.supervisor_dial``, so the slice's settings
are the ``[recording]`` section. Nothing runs in the background: stopping is a no-op, kept so
the composition root starts and stops every slice the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.ami.bridge import AmiBridge
from callcenter.monitoring.services import MonitorService
from callcenter.settings import RecordingSettings


@dataclass(frozen=True, slots=True)
class Monitoring:
    service: MonitorService

    async def stop(self) -> None:
        """Nothing to stop: a monitor call, once placed, is Asterisk's."""


async def start(settings: RecordingSettings, *, ami: AmiBridge) -> Monitoring:
    return Monitoring(MonitorService(ami, settings))
