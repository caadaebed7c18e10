"""Recording audio for authorised users only: played (with byte ranges) or downloaded.

Encrypted files are decrypted chunk by chunk while they stream; nothing decrypted touches the
disk. Every play and download request writes an audit row.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from callcenter.calls.state import LiveCall
from callcenter.monitoring.services import MonitorMode
from callcenter.recording.audio import MEDIA_TYPES
from callcenter.recording.crypto import RecordingCipher
from callcenter.recording.errors import AudioUnavailable
from hcrm_core.errors import DomainError, ValidationFailed
from hcrm_core.models import AuditAction, Recording, User
from hcrm_core.services.audit import record_audit
from hcrm_core.services.recordings import get_recording
from web_console.access import STAFF, SUPERVISORS, actor_for, allow, require_session
from web_console.keys import CALLS, DATABASE, MONITORING, SETTINGS
from web_console.routes.recordings import recording_id_from, viewer_for

routes = web.RouteTableDef()
_RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$", re.ASCII)
_PLAIN_CHUNK = 64 * 1024


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single-range request; None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if not match[1]:  # the last N bytes
        start, end = max(0, size - int(match[2])), size
    else:
        start = int(match[1])
        end = min(size, int(match[2]) + 1) if match[2] else size
    if start >= size or start >= end:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _size(path: Path, cipher: RecordingCipher | None) -> int:
    if not path.exists():
        raise AudioUnavailable("the audio file is missing")
    return cipher.plaintext_size(path) if cipher else path.stat().st_size


def _plain_chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(_PLAIN_CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


async def _stream(
    request: web.Request, recording: Recording, *, download: bool
) -> web.StreamResponse:
    if recording.audio_path is None or recording.audio_deleted_at is not None:
        raise AudioUnavailable("this recording has no playable audio")
    path = Path(recording.audio_path)
    cipher = RecordingCipher.from_setting(request.app[SETTINGS].recording.key.get_secret_value())
    if recording.audio_encrypted and cipher is None:
        raise AudioUnavailable("the recording key is not configured")
    opened = cipher if recording.audio_encrypted else None
    size = await asyncio.to_thread(_size, path, opened)
    wanted = None if download else byte_range(request.headers.get("Range"), size)
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200)
    response.content_type = MEDIA_TYPES.get(
        recording.audio_format or "", "application/octet-stream"
    )
    response.content_length = end - start
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "no-store"
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if download:
        extension = "ogg" if recording.audio_format == "opus" else "mp3"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="recording-{recording.id}.{extension}"'
        )
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.EXPORT if download else AuditAction.PLAY,
        "recording",
        recording.id,
        patient_id=recording.patient_id,
        detail={"range": [start, end]} if wanted else {},
    )
    await response.prepare(request)
    chunks = opened.decrypt_range(path, start, end) if opened else _plain_chunks(path, start, end)
    # File reads and decryption happen in a thread, one chunk at a time, off the event loop.
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        await response.write(chunk)
    await response.write_eof()
    return response


@routes.get("/recordings/{recording_id}/audio")
@allow(STAFF)
async def play(request: web.Request) -> web.StreamResponse:
    recording = await get_recording(
        request.app[DATABASE], viewer_for(request), recording_id_from(request), actor_for(request)
    )
    return await _stream(request, recording, download=False)


@routes.get("/recordings/{recording_id}/download")
@allow(STAFF)
async def download(request: web.Request) -> web.StreamResponse:
    recording = await get_recording(
        request.app[DATABASE], viewer_for(request), recording_id_from(request), actor_for(request)
    )
    return await _stream(request, recording, download=True)


async def _audit_monitor(
    request: web.Request, call: LiveCall, mode: str, outcome: str, **detail: str
) -> None:
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.PLAY,
        "call_monitor",
        call.linkedid,
        patient_id=call.patient_id,
        detail={"mode": mode, "outcome": outcome, **detail},
    )


@routes.post("/api/v1/recordings/monitor")
@allow(SUPERVISORS)
async def monitor(request: web.Request) -> web.StreamResponse:
    """Listen, whisper or barge from the supervisor's own phone (their user's extension)."""
    form = await request.post()
    linkedid, mode = form.get("linkedid"), form.get("mode")
    if mode not in {m.value for m in MonitorMode}:
        raise ValidationFailed("mode", "must be listen, whisper or barge")
    call = request.app[CALLS].get(linkedid) if isinstance(linkedid, str) else None
    if call is None or call.ended or not call.agent_channel:
        raise ValidationFailed("linkedid", "no call with an agent in progress has this id")
    async with request.app[DATABASE].session() as session:
        me = await session.get(User, require_session(request).user_id)
    extension = (me.extension if me else "") or ""
    # Audited before the Originate (a supervisor on a call is never missing from the trail),
    # then again with its outcome.
    await _audit_monitor(request, call, mode, "attempt", extension=extension)
    starting = request.app[MONITORING].start(
        supervisor_extension=extension,
        channel=call.agent_channel,
        mode=MonitorMode(mode),
        linkedid=call.linkedid,
    )
    try:
        action_id = await starting
    except DomainError as exc:
        await _audit_monitor(request, call, mode, f"refused: {exc.code}")
        raise
    await _audit_monitor(request, call, mode, "placed", action_id=action_id)
    # The extension lets the page say which phone is about to ring.
    return web.json_response(
        {
            "monitoring": call.linkedid,
            "mode": mode,
            "action_id": action_id,
            "extension": extension,
        }
    )
