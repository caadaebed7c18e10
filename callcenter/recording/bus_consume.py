"""Events in: the dialplan's ``CallcenterRecording`` UserEvent and the tracker's CallEnded.

Each item is handled in a task of its own (waiting for a call's files must not hold up the
next call's start); the service's per-call lock keeps one call's start before its end.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from callcenter.ami.events import AmiEvent
from callcenter.bus import EventBus, Subscription
from callcenter.calls.state import CallEnded
from callcenter.recording.services import RecordingService, RecordingStarted
from callcenter.tasks import BackgroundTasks

_LOG = logging.getLogger(__name__)
USER_EVENT = "CallcenterRecording"


def parse_started(event: AmiEvent) -> RecordingStarted:
    return RecordingStarted(
        linkedid=event.linkedid,
        channel=event.channel,
        file_name=event.get("File").strip(),
        policy=event.get("Policy").strip() or "always",
        at=datetime.fromtimestamp(event.received_at, UTC),
    )


def _wanted(item: object) -> bool:
    if isinstance(item, CallEnded):
        return True
    return (
        type(item) is AmiEvent and item.name == "UserEvent" and item.get("UserEvent") == USER_EVENT
    )


class RecordingEvents:
    def __init__(self, bus: EventBus, service: RecordingService) -> None:
        self._bus = bus
        self._service = service
        self._subscription: Subscription[Any] | None = None
        self._tasks = BackgroundTasks("recordings")

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            object, self._on_item, name="recordings", predicate=_wanted, maxsize=50_000
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        # Bookkeeping in flight is not cut off half-way; what outlasts the wait is left
        # running, and the sweep at the next start-up closes anything it did not finish.
        await self._tasks.wait(within=15)

    async def _on_item(self, item: object) -> None:
        self._tasks.spawn(self._handle(item), getattr(item, "linkedid", None))

    async def _handle(self, item: object) -> None:
        try:
            if isinstance(item, CallEnded):
                await self._service.call_ended(item.linkedid)
            elif isinstance(item, AmiEvent) and item.linkedid:
                await self._service.recording_started(parse_started(item))
        except Exception:  # logged with the call; the sweep at start-up closes what is left
            linkedid = getattr(item, "linkedid", "-")
            _LOG.exception("recording bookkeeping failed linkedid=%s", linkedid)
