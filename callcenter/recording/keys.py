"""The recording key: made for the demo, and checked against what is stored before use.

Every site has a key: ``ensure_secrets`` generates one into ``<data_dir>/secrets.toml`` on
first run unless ``recording.key`` is set (``callcenter recordings keygen``). Earlier demos
kept theirs in ``<data_dir>/recording.key``; :func:`with_recording_key` still reads it.

:func:`key_problem` is asked before the processor starts: a missing or different key while
encrypted recordings exist means new files would be written under another key (or in clear)
and the old ones could not be opened, so the worker does not start and the reason is logged
and shown on ``/healthz``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from callcenter.recording.crypto import RecordingCipher, generate_key
from callcenter.recording.errors import BadRecordingKey
from callcenter.recording.voicemails import SEALED_SUFFIX
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.models import AfterHoursRequest, Recording, Transcript

_AUDIO_PROBES = 20

KEY_FILE = "recording.key"


def with_recording_key(settings: Settings) -> Settings:
    """``settings`` with ``recording.key`` set (kept as configured when it already is)."""
    if settings.recording.key.get_secret_value():
        return settings
    path = settings.data_dir / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    RecordingCipher.from_setting(key)  # a damaged file fails here, not mid-call
    recording = settings.recording.model_copy(update={"key": SecretStr(key)})
    return settings.model_copy(update={"recording": recording})


async def key_problem(key: str, database: Database) -> str | None:
    """Why recordings must not be processed with ``key``, or None when it is fine.

    The key must open the newest encrypted transcript and the newest encrypted audio file
    (a recording's, else a sealed after-hours voicemail's) still on disk; with no key, no
    encrypted recording may exist.
    """
    try:
        cipher = RecordingCipher.from_setting(key)
    except BadRecordingKey as exc:
        return str(exc)
    async with database.session() as session:
        transcript = await session.scalar(
            select(Transcript.text)
            .where(Transcript.encrypted.is_(True))
            .order_by(Transcript.id.desc())
            .limit(1)
        )
        audio = list(
            await session.scalars(
                select(Recording.audio_path)
                .where(
                    Recording.audio_encrypted.is_(True),
                    Recording.audio_path.is_not(None),
                    Recording.audio_deleted_at.is_(None),
                )
                .order_by(Recording.id.desc())
                .limit(_AUDIO_PROBES)
            )
        )
        audio += await session.scalars(
            select(AfterHoursRequest.recording_path)
            .where(AfterHoursRequest.recording_path.like(f"%.wav{SEALED_SUFFIX}"))
            .order_by(AfterHoursRequest.id.desc())
            .limit(_AUDIO_PROBES)
        )
    audio_file = await asyncio.to_thread(_first_existing, [p for p in audio if p])
    if transcript is None and audio_file is None:
        return None
    if cipher is None:
        return (
            "recording.key is empty but encrypted recordings exist: restore the key they were "
            "made with (secrets.toml or the configuration) before processing resumes"
        )
    opens_text = transcript is None or cipher.opens_text(transcript)
    opens_audio = audio_file is None or await asyncio.to_thread(cipher.opens, audio_file)
    if opens_text and opens_audio:
        return None
    return (
        "recording.key does not open the encrypted recordings already stored: restore the key "
        "they were made with, or re-encrypt them (callcenter recordings rekey)"
    )


def _first_existing(paths: list[str]) -> Path | None:
    return next((Path(p) for p in paths if Path(p).is_file()), None)
