"""The call tracker: AMI events in, calls out (call log rows and domain notices on the bus).

One :class:`LiveCall` per Linkedid while the call is up. Events reach the tracker through its
own bus subscription, so the AMI read path never waits for it; database writes go through the
batching :class:`CallLogWriter`. After every AMI (re)connect the bridge publishes a snapshot
of the live channels (``AmiResynced``): calls we hold that Asterisk no longer has are closed
with a reason saying what happened, and live calls we did not know are adopted. On start-up,
calls left open in the database by a previous run are taken back into that reconciliation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from callcenter.ami.events import (
    AmiConnectionChanged,
    AmiEvent,
    AmiResynced,
    ConnectionState,
    duration_seconds,
)
from callcenter.bus import EventBus, Subscription
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.channel_ids import attempt_of
from callcenter.calls.state import (
    CallEnded,
    EndReason,
    IvrProgress,
    LiveCall,
    Notice,
    apply_ivr,
    event_time,
)
from callcenter.tasks import BackgroundTasks
from hcrm_core.db import Database
from hcrm_core.models import Call, CallEvent
from hcrm_core.services.patients import PatientService

_LOG = logging.getLogger(__name__)

# Events that say nothing about a call's record but would swell the log (RTCP, DTMF frames,
# variable noise, hold music, the hang-up requests that precede every Hangup). Everything else
# that carries a Linkedid is kept. Storing is the costliest step of the event path (a JSON row
# per event): these were a quarter of the rows of a recorded queue-call stream.
_NOT_STORED = frozenset(
    {
        "RTCPSent",
        "RTCPReceived",
        "VarSet",
        "Newexten",
        "DTMFBegin",
        "DTMFEnd",
        "CoreShowChannel",
        "QueueMember",
        "QueueEntry",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
        "SoftHangupRequest",
        "HangupRequest",
        "DialState",
    }
)
_PATIENT_LOOKUPS = 8
# Ended calls are kept this long for late legs (a Hangup of the other half), then forgotten.
KEEP_ENDED_SECONDS = 60.0


class CallTracker:
    def __init__(
        self,
        bus: EventBus,
        writer: CallLogWriter,
        database: Database,
        patients: PatientService | None,
        *,
        inbound_contexts: Iterable[str],
        campaign_prefix: str | None = None,
    ) -> None:
        self._bus = bus
        # The dialer names each campaign call's channel ``<prefix><attempt id>`` (Originate's
        # ChannelId), so the Linkedid tells a campaign call from the first event on.
        self._campaign_prefix = campaign_prefix
        self._writer = writer
        self._db = database
        self._patients = patients
        self._inbound = frozenset(inbound_contexts)
        self._calls: dict[str, LiveCall] = {}
        # (monotonic time to forget, Linkedid) of ended calls, oldest first: swept as events
        # arrive (one timer per call would be three more objects per call for the collector).
        self._ended: deque[tuple[float, str]] = deque()
        self._seq = itertools.count(1)
        self._subscriptions: list[Subscription[Any]] = []
        self._lookups = BackgroundTasks("patient-lookup")
        self._lookup_slots = asyncio.Semaphore(_PATIENT_LOOKUPS)
        self._link_lost_at: datetime | None = None
        self._shutdown_seen = False
        # Calls left open by a previous run, with the time of their last recorded event.
        self._orphans: dict[str, datetime] = {}
        self.events_seen = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._adopt_open_calls()
        # One subscription, so one queue: a resync is handled after every event published
        # before it (a Hangup just before the snapshot must not be overtaken by it).
        self._subscriptions = [
            self._bus.subscribe(
                object,
                self._on_input,
                name="call-tracker",
                predicate=_is_input,
                maxsize=100_000,
                paces_publishers=True,
            )
        ]

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            await subscription.close()
        # Let patient lookups in flight finish (their result is part of the call's record).
        await self._lookups.drain(within=5)

    def live_calls(self) -> list[LiveCall]:
        return [call for call in self._calls.values() if not call.ended]

    def get(self, linkedid: str) -> LiveCall | None:
        return self._calls.get(linkedid)

    def link_patient(self, linkedid: str, patient_id: int) -> None:
        """An agent said who the caller is: the live call keeps it in every later write.

        Without this, the call's next row (the tracker writes the whole row) would put back
        the patient the tracker knew, or none.
        """
        call = self._calls.get(linkedid)
        if call is not None:
            call.patient_id = patient_id
            self._writer.save_call(call.row())

    # -- inputs ------------------------------------------------------------------------------

    async def _on_input(self, item: object) -> None:
        if type(item) is AmiEvent:
            self.process(item)
        elif isinstance(item, AmiResynced):
            self._on_resynced(item)
        elif isinstance(item, AmiConnectionChanged):
            self._on_connection(item)
        elif isinstance(item, IvrProgress):
            self._on_ivr(item)

    def process(self, event: AmiEvent) -> None:
        """Fold one AMI event in (synchronous: no I/O, the writer batches)."""
        linkedid = event.linkedid
        if self._ended and self._ended[0][0] <= time.monotonic():
            self._forget_ended()
        if event.name == "Shutdown":
            self._shutdown_seen = True
        if not linkedid:
            return
        self.events_seen += 1
        call = self._calls.get(linkedid)
        if call is None:
            if event.name == "Hangup" and event.uniqueid != linkedid:
                # A stray leg of a call we already closed and forgot: nothing to open.
                self._store_event(event)
                return
            call = self._new_call(linkedid, event_time(event))
        self._store_event(event)
        had_caller = call.caller_number is not None
        notices = call.apply(event, self._inbound)
        if notices:
            self._emit(call, notices)
        elif not had_caller and call.caller_number is not None:
            self._writer.save_call(call.row())
        if not had_caller and call.caller_number is not None and call.patient_id is None:
            self._lookup_patient(call)

    def _new_call(self, linkedid: str, started_at: datetime) -> LiveCall:
        call = LiveCall(linkedid=linkedid, started_at=started_at)
        attempt = self._campaign_attempt(linkedid)
        if attempt is not None:
            call.direction = "outbound"
            call.campaign_attempt_id = attempt
        self._calls[linkedid] = call
        return call

    def _campaign_attempt(self, linkedid: str) -> int | None:
        if not self._campaign_prefix:
            return None
        return attempt_of(self._campaign_prefix, linkedid)

    def _store_event(self, event: AmiEvent) -> None:
        if event.name in _NOT_STORED:
            return
        self._writer.save_event(
            event.linkedid, next(self._seq), event_time(event), event.name, event.headers.as_dict()
        )

    def _on_ivr(self, progress: IvrProgress) -> None:
        call = self._calls.get(progress.linkedid)
        if call is None:
            call = self._new_call(progress.linkedid, datetime.now(UTC))
        apply_ivr(call, progress, datetime.now(UTC))
        self._writer.save_call(call.row())

    def _on_connection(self, change: AmiConnectionChanged) -> None:
        if change.state is not ConnectionState.CONNECTED and self._link_lost_at is None:
            self._link_lost_at = datetime.now(UTC)

    def _on_resynced(self, resynced: AmiResynced) -> None:
        snapshot = resynced.snapshot
        live = snapshot.channels_by_linkedid()
        now = datetime.fromtimestamp(snapshot.taken_at, UTC)
        reason = EndReason.MISSED_HANGUP
        ended_at = now
        if self._link_lost_at is not None:
            reason = EndReason.ASTERISK_SHUTDOWN if self._shutdown_seen else EndReason.LINK_LOST
            ended_at = self._link_lost_at
        for call in self.live_calls():
            present = live.get(call.linkedid)
            if present is not None:
                call.resync_channels((c.uniqueid for c in present), snapshot.taken_at)
                continue
            if call.started_at > now:
                continue
            orphaned_at = self._orphans.pop(call.linkedid, None)
            why, when = (
                (EndReason.SERVER_RESTART, orphaned_at) if orphaned_at else (reason, ended_at)
            )
            _LOG.info("call closed by reconcile linkedid=%s reason=%s", call.linkedid, why)
            self._emit(call, [call.end(why, max(when, call.started_at))])
        self._orphans.clear()
        for linkedid, channels in live.items():
            # A call we saw end after the snapshot was taken is not adopted again.
            if linkedid not in self._calls:
                self._adopt_live(linkedid, channels, now)
        self._link_lost_at = None
        self._shutdown_seen = False

    def _adopt_live(self, linkedid: str, channels: list[AmiEvent], now: datetime) -> None:
        """A call Asterisk has that we never saw start (we were disconnected): open it."""
        first = next((c for c in channels if c.uniqueid == linkedid), channels[0])
        seconds = duration_seconds(first.get("Duration")) or 0.0
        call = self._new_call(linkedid, now - timedelta(seconds=seconds))
        call.first_uniqueid = first.uniqueid
        call.channels = dict.fromkeys((c.uniqueid for c in channels), now.timestamp())
        call.note_caller(first)
        call.dialled_number = first.get("Exten")[:80] or None
        if first.get("Context") in self._inbound:
            call.direction = "inbound"
        call.announced = True
        self._writer.save_call(call.row())

    async def _adopt_open_calls(self) -> None:
        """Calls a previous run left open wait for the first reconciliation.

        If Asterisk no longer has them they ended while this server was down: they are closed
        as ``server_restarted`` at the time of their last recorded event.
        """
        async with self._db.session() as session:
            rows = (await session.scalars(select(Call).where(Call.ended_at.is_(None)))).all()
            last_events = await session.execute(
                select(CallEvent.linkedid, func.max(CallEvent.received_at))
                .join(Call, Call.linkedid == CallEvent.linkedid)
                .where(Call.ended_at.is_(None))
                .group_by(CallEvent.linkedid)
            )
            last_seen: dict[str, datetime] = {linkedid: at for linkedid, at in last_events}
        for row in rows:
            call = LiveCall(
                linkedid=row.linkedid,
                started_at=row.started_at,
                direction=row.direction.value,
                caller_number=row.caller_number,
                caller_name=row.caller_name,
                dialled_number=row.dialled_number,
                patient_id=row.patient_id,
                queue=row.queue,
                queued_at=row.queued_at,
                answered_at=row.answered_at,
                abandoned=row.abandoned,
                ivr_entered_at=row.ivr_entered_at,
                ivr_context=row.ivr_context,
                agent_interface=row.agent_interface,
                transfers=row.transfers,
                announced=True,
            )
            call.first_uniqueid = row.linkedid
            self._calls[row.linkedid] = call
            self._orphans[row.linkedid] = last_seen.get(row.linkedid) or row.started_at
        if rows:
            _LOG.info("call tracker: %d calls open from a previous run await reconcile", len(rows))

    # -- outputs -----------------------------------------------------------------------------

    def _emit(self, call: LiveCall, notices: list[Notice]) -> None:
        self._writer.save_call(call.row())
        for notice in notices:
            self._bus.publish(notice)
            if isinstance(notice, CallEnded):
                _LOG.info(
                    "call ended linkedid=%s reason=%s cause=%s",
                    call.linkedid,
                    notice.reason,
                    notice.hangup_cause,
                )
                self._ended.append((time.monotonic() + KEEP_ENDED_SECONDS, call.linkedid))

    def _forget_ended(self) -> None:
        now = time.monotonic()
        while self._ended and self._ended[0][0] <= now:
            _, linkedid = self._ended.popleft()
            call = self._calls.get(linkedid)
            if call is not None and call.ended:
                del self._calls[linkedid]

    def _lookup_patient(self, call: LiveCall) -> None:
        if self._patients is None:
            return
        self._lookups.spawn(self._link_patient(call), call.linkedid)

    async def _link_patient(self, call: LiveCall) -> None:
        assert self._patients is not None and call.caller_number
        async with self._lookup_slots:
            try:
                found = await self._patients.find_by_phone(call.caller_number)
            except Exception as exc:  # the call is logged without a patient; say why
                _LOG.warning(
                    "patient lookup failed linkedid=%s: %s", call.linkedid, type(exc).__name__
                )
                return
        if len(found) == 1 and call.patient_id is None:
            call.patient_id = found[0].id
            self._writer.save_call(call.row())
        elif len(found) > 1:
            call.ivr_context = {**call.ivr_context, "caller_id_matches": [p.id for p in found]}
            self._writer.save_call(call.row())


_INPUTS = (AmiEvent, AmiResynced, AmiConnectionChanged, IvrProgress)


def _is_input(item: object) -> bool:
    return isinstance(item, _INPUTS)
