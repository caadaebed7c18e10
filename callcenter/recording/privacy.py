"""What a patient's export and erasure need from the recording slice: the key that opens
transcripts, and the removal of a recording's files (hcrm_core/services/privacy.py holds the
rest, and takes these two as plain callables)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from callcenter.recording.crypto import RecordingCipher
from callcenter.recording.paths import raw_files
from callcenter.settings import AsteriskSettings, RecordingSettings
from hcrm_core.models import Recording
from hcrm_core.services.privacy import Decrypt, RemoveAudio


def transcript_decrypter(settings: RecordingSettings) -> Decrypt | None:
    """Opens encrypted transcripts with ``recording.key``; None when no key is configured."""
    cipher = RecordingCipher.from_setting(settings.key.get_secret_value())
    return cipher.decrypt_text if cipher else None


def audio_remover(asterisk: AsteriskSettings) -> RemoveAudio:
    """Deletes every file of the recordings given: the browser file and MixMonitor's WAVs."""

    async def remove(recordings: Sequence[Recording]) -> None:
        paths = [Path(r.audio_path) for r in recordings if r.audio_path]
        for recording in recordings:
            paths += raw_files(recording, asterisk)
        await asyncio.to_thread(_unlink_all, paths)

    return remove


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
