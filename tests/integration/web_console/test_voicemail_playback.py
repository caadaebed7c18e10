"""A sealed after-hours voicemail plays from the hours page decrypted (whole and by byte
range), each play audited; the page never serves the sealed bytes."""

from __future__ import annotations

import dataclasses
import os
import wave
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from callcenter.recording.crypto import RecordingCipher, generate_key
from callcenter.recording.voicemails import seal_voicemails
from hcrm_core.models import AfterHoursKind, AuditAction, AuditEvent
from hcrm_core.services.opening_hours import OpeningHoursService
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app


def _head(path: str) -> bytes:
    with open(path, "rb") as sealed:
        return sealed.read(4)


async def test_a_sealed_voicemail_plays_decrypted_and_audited(
    world: ConsoleWorld, aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = world.server.settings
    key = generate_key()
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    asterisk = settings.asterisk.model_copy(update={"recordings_local_path": tmp_path})
    recording = settings.recording.model_copy(update={"key": SecretStr(key)})
    deps = world.server.console_deps()
    deps = dataclasses.replace(
        deps,
        settings=deps.settings.model_copy(update={"asterisk": asterisk, "recording": recording}),
    )
    name = "after-hours-1700000100-0123456789ab.wav"
    with wave.open(str(tmp_path / name), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(os.urandom(160_000))
    audio = (tmp_path / name).read_bytes()
    settled = (tmp_path / name).stat().st_mtime - 60
    os.utime(tmp_path / name, (settled, settled))
    hours = OpeningHoursService(world.server.database, settings.tz)
    voicemail = await hours.record_request(
        AfterHoursKind.VOICEMAIL,
        "appointments",
        caller_number="+12125550142",
        patient_id=world.grace.id,
        recording_path=f"{settings.asterisk.recordings_asterisk_path}/{name}",
    )
    sealed = await seal_voicemails(
        cipher, world.server.database, asterisk=asterisk, processed=tmp_path / "sealed"
    )
    assert sealed == 1 and not (tmp_path / name).exists()
    stored = (await hours.request(voicemail.id)).recording_path
    assert stored is not None and _head(stored) != b"RIFF"

    sam = await aiohttp_client(create_app(deps))
    assert (await login(sam, "sam")).status == 302
    whole = await sam.get(f"/admin/hours/requests/{voicemail.id}/audio")
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
    assert await whole.read() == audio
    part = await sam.get(
        f"/admin/hours/requests/{voicemail.id}/audio", headers={"Range": "bytes=70000-70099"}
    )
    assert part.status == 206 and await part.read() == audio[70000:70100]
    assert part.headers["Content-Range"] == f"bytes 70000-70099/{len(audio)}"

    async with world.server.database.session() as session:
        plays = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "after_hours_request",
                    AuditEvent.entity_id == str(voicemail.id),
                    AuditEvent.action == AuditAction.PLAY,
                )
            )
        )
    assert len(plays) == 2 and plays[0].patient_id == world.grace.id

    alice = await aiohttp_client(create_app(deps))
    assert (await login(alice, "alice")).status == 302
    assert (await alice.get(f"/admin/hours/requests/{voicemail.id}/audio")).status == 403
