"""Recordings of live calls: registered when Asterisk starts one, paused and resumed on request,
and closed when the call ends (files checked, job queued, or marked failed).

Pausing::

    await recordings.service.set_paused(linkedid, paused=True, actor=Actor.user(...))

mutes both directions of the call's MixMonitor (AMI ``MixMonitorMute``), notes the pause in
the recording's ``pauses`` and writes an audit row. Raises :class:`NotRecording` when the call
has no recording in progress, :class:`TelephonyUnavailable` when AMI is down. (No console route
calls it yet: the desk's pause button is part of call control.)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiActionError, AmiError
from callcenter.calls.state import EndReason
from callcenter.recording.errors import NotRecording, TelephonyUnavailable, UnsafeRecordingPath
from callcenter.recording.jobs import add_job
from callcenter.recording.paths import files_for, local_path
from callcenter.settings import AsteriskSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AuditAction, Call, CampaignAttempt, Recording, RecordingStatus, User
from hcrm_core.services.audit import add_audit

_LOG = logging.getLogger(__name__)
CALL_ROW_WAIT = 10.0
FILE_WAIT = 10.0
_EXTENSION = re.compile(r"^(?:PJSIP|SIP|IAX2|Local)/(\d{2,10})\b")
# A call ended this way lost its recording's tail: Asterisk never closed the files.
_BROKEN_ENDS = frozenset({EndReason.ASTERISK_SHUTDOWN.value, EndReason.LINK_LOST.value})


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """Parsed ``UserEvent: CallcenterRecording`` from the dialplan."""

    linkedid: str
    channel: str
    file_name: str
    policy: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LiveRecordingState:
    recording_id: int
    policy: str
    paused: bool


class RecordingService:
    def __init__(
        self,
        asterisk: AsteriskSettings,
        database: Database,
        ami: AmiBridge,
        *,
        on_queued: Callable[[], None] | None = None,
        on_closed: Callable[[Recording], None] | None = None,
    ) -> None:
        """``asterisk`` names the recording files (``recordings_asterisk_path``) and maps them
        to this server's paths (``recordings_local_path``)."""
        self._asterisk = asterisk
        self._db = database
        self._ami = ami
        self._on_queued = on_queued
        self._on_closed = on_closed
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, linkedid: str) -> asyncio.Lock:
        return self._locks.setdefault(linkedid, asyncio.Lock())

    # -- start -------------------------------------------------------------------------------

    async def recording_started(self, started: RecordingStarted) -> Recording | None:
        """Register the recording once the call's row exists; mute it when on demand."""
        try:
            files = files_for(started.file_name, self._asterisk)
        except UnsafeRecordingPath as exc:
            _LOG.error("recording ignored linkedid=%s: %s", started.linkedid, exc)
            return None
        async with self._lock(started.linkedid):
            call_id = await self._wait_for_call(started.linkedid)
            if call_id is None:
                _LOG.error("recording without a call row linkedid=%s", started.linkedid)
                return None
            on_demand = started.policy == "on_demand"
            async with self._db.transaction() as session:
                existing = await session.scalar(
                    select(Recording).where(Recording.asterisk_path == str(files.mixed))
                )
                if existing is not None:
                    return existing
                recording = Recording(
                    call_id=call_id,
                    linkedid=started.linkedid,
                    channel=started.channel[:200],
                    policy=started.policy or "always",
                    asterisk_path=str(files.mixed),
                    caller_asterisk_path=str(files.caller),
                    agent_asterisk_path=str(files.agent),
                    status=RecordingStatus.RECORDING,
                    started_at=started.at,
                    pauses=[_mark(started.at, True, None, "on_demand")] if on_demand else [],
                )
                session.add(recording)
        if on_demand:
            # Armed but silent until the agent turns it on from the desk.
            await self._mute(recording, True)
        _LOG.info("recording started linkedid=%s policy=%s", started.linkedid, started.policy)
        return recording

    async def _wait_for_call(self, linkedid: str) -> int | None:
        # The call log writer batches its rows: the call's row follows within a flush or two.
        deadline = asyncio.get_running_loop().time() + CALL_ROW_WAIT
        while True:
            async with self._db.session() as session:
                call_id = await session.scalar(select(Call.id).where(Call.linkedid == linkedid))
            if call_id is not None or asyncio.get_running_loop().time() > deadline:
                return call_id
            await asyncio.sleep(0.1)

    # -- pause / resume (the agent desk) -----------------------------------------------------

    async def set_paused(self, linkedid: str, *, paused: bool, actor: Actor) -> Recording:
        """Pause (mute) or resume the call's recording; audited. See the module docstring."""
        async with self._lock(linkedid):
            async with self._db.session() as session:
                recording = await session.scalar(
                    select(Recording)
                    .where(
                        Recording.linkedid == linkedid,
                        Recording.status == RecordingStatus.RECORDING,
                    )
                    .order_by(Recording.id.desc())
                )
            if recording is None:
                raise NotRecording("this call is not being recorded")
            await self._mute(recording, paused)
            now = datetime.now(UTC)
            async with self._db.transaction() as session:
                row = await session.get(Recording, recording.id)
                assert row is not None
                row.pauses = [*row.pauses, _mark(now, paused, actor.user_id, "agent")]
                add_audit(
                    session,
                    actor,
                    AuditAction.UPDATE,
                    "recording",
                    row.id,
                    detail={"paused": paused, "linkedid": linkedid},
                )
                recording = row
        _LOG.info("recording %s linkedid=%s", "paused" if paused else "resumed", linkedid)
        return recording

    async def live_state(self, linkedid: str) -> LiveRecordingState | None:
        """For the desk's button: is the call recorded, with which policy, paused now?"""
        async with self._db.session() as session:
            recording = await session.scalar(
                select(Recording)
                .where(
                    Recording.linkedid == linkedid,
                    Recording.status == RecordingStatus.RECORDING,
                )
                .order_by(Recording.id.desc())
            )
        if recording is None:
            return None
        paused = bool(recording.pauses) and bool(recording.pauses[-1].get("paused"))
        return LiveRecordingState(recording.id, recording.policy or "always", paused)

    async def _mute(self, recording: Recording, muted: bool) -> None:
        try:
            await self._ami.send_action(
                {
                    "Action": "MixMonitorMute",
                    "Channel": recording.channel or "",
                    "Direction": "both",
                    "State": "1" if muted else "0",
                }
            )
        except AmiActionError as exc:  # the channel hung up a moment ago
            raise NotRecording(f"the recording cannot be changed now ({exc.message})") from exc
        except AmiError as exc:
            raise TelephonyUnavailable("the phone system cannot be reached") from exc

    # -- end ---------------------------------------------------------------------------------

    async def call_ended(self, linkedid: str) -> list[Recording]:
        """Close the call's recordings: check the files, then queue processing or mark failed."""
        async with self._lock(linkedid):
            async with self._db.session() as session:
                ids = list(
                    await session.scalars(
                        select(Recording.id).where(
                            Recording.linkedid == linkedid,
                            Recording.status == RecordingStatus.RECORDING,
                        )
                    )
                )
            closed = [await self._close(recording_id) for recording_id in ids]
        self._locks.pop(linkedid, None)
        return [r for r in closed if r is not None]

    async def close_leftovers(self) -> int:
        """Recordings still 'recording' whose call has ended (the server was down): close them."""
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(Recording.linkedid)
                    .join(Call, Call.id == Recording.call_id)
                    .where(
                        Recording.status == RecordingStatus.RECORDING, Call.ended_at.is_not(None)
                    )
                    .distinct()
                )
            ).all()
        for (linkedid,) in rows:
            if linkedid:
                await self.call_ended(linkedid)
        return len(rows)

    async def _close(self, recording_id: int) -> Recording | None:
        async with self._db.session() as session:
            recording = await session.get(Recording, recording_id)
            assert recording is not None
            call = await session.get(Call, recording.call_id)
        assert call is not None
        sides = [
            local_path(p, self._asterisk)
            for p in (recording.caller_asterisk_path, recording.agent_asterisk_path)
            if p
        ]
        sizes = await asyncio.to_thread(_wait_for_files, sides, FILE_WAIT)
        error = _failure(call, sizes)
        async with self._db.transaction() as session:
            row = await session.get(Recording, recording_id)
            assert row is not None
            row.ended_at = call.ended_at or datetime.now(UTC)
            row.local_path = str(local_path(row.asterisk_path, self._asterisk))
            await self._link(session, row, call)
            # Nothing worth keeping: not a failure, but no recording either (files removed).
            nothing = _nothing_to_keep(row, call, sizes) if error is None else None
            if nothing is not None:
                row.status = RecordingStatus.DELETED
                row.error = nothing
                await asyncio.to_thread(_remove, [*sides, Path(row.local_path)])
            elif error is None:
                row.status = RecordingStatus.PENDING
                add_job(session, row.id)
            else:
                row.status = RecordingStatus.FAILED
                row.error = error
        if row.status is RecordingStatus.PENDING and self._on_queued is not None:
            self._on_queued()
        if self._on_closed is not None:
            self._on_closed(row)
        _LOG.info("recording closed linkedid=%s status=%s", recording.linkedid, row.status.value)
        return row

    async def _link(self, session: AsyncSession, row: Recording, call: Call) -> None:
        """Who the recording belongs to: patient, agent, queue, campaign (from the call)."""
        row.patient_id = call.patient_id
        row.queue = call.queue
        row.agent_interface = call.agent_interface
        row.agent_user_id = call.agent_user_id or await _agent_for(session, call.agent_interface)
        if call.campaign_attempt_id is not None:
            attempt = await session.get(CampaignAttempt, call.campaign_attempt_id)
            row.campaign_id = attempt.campaign_id if attempt else None


def _mark(at: datetime, paused: bool, user_id: int | None, reason: str) -> dict[str, object]:
    return {"at": at.isoformat(), "paused": paused, "by": user_id, "reason": reason}


def _never_turned_on(row: Recording) -> bool:
    return row.policy == "on_demand" and not any(not p.get("paused") for p in row.pauses)


async def _agent_for(session: AsyncSession, interface: str | None) -> int | None:
    match = _EXTENSION.match(interface or "")
    if match is None:
        return None
    return await session.scalar(select(User.id).where(User.extension == match.group(1)))


def _failure(call: Call, sizes: list[int]) -> str | None:
    """Why the recording is broken, or None."""
    if call.end_reason in _BROKEN_ENDS:
        return f"Asterisk stopped during the call ({call.end_reason}); the recording is incomplete"
    if not sizes or all(size < 0 for size in sizes):
        return "no recording file was written (disk full, permissions, or Asterisk restarted)"
    if all(size <= 44 for size in sizes) and call.answered_at is not None:
        return "the recording files hold no audio"
    return None


def _nothing_to_keep(row: Recording, call: Call, sizes: list[int]) -> str | None:
    """Why an intact recording holds nothing worth keeping, or None."""
    if all(size <= 44 for size in sizes) and call.answered_at is None:
        # Option b records only while bridged: a caller who never reached an agent left
        # empty files (abandoned in the queue, or no agent signed in).
        return "the call never reached an agent: nothing was recorded"
    if _never_turned_on(row):
        return "on-demand recording was never turned on"
    return None


def _wait_for_files(paths: list[Path], timeout: float) -> list[int]:
    """Sizes of the files (-1 when missing) once MixMonitor has closed them.

    MixMonitor closes its files on its own thread just after the hang-up; no event marks it,
    so wait until every file exists and its size holds still for a moment.
    """
    import time

    deadline = time.monotonic() + timeout
    previous: list[int] | None = None
    steady = 0
    while True:
        sizes = [p.stat().st_size if p.exists() else -1 for p in paths]
        steady = steady + 1 if sizes == previous else 0
        # Audio that holds still for a poll is done; headers only (or nothing) must hold
        # still for a second, since MixMonitor may not have flushed its first frames yet.
        if steady >= (1 if all(s > 44 for s in sizes) else 5):
            return sizes
        if time.monotonic() > deadline:
            return sizes
        previous = sizes
        time.sleep(0.2)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
