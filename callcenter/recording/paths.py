"""Recording file names and the Asterisk -> server path mapping.

Asterisk names every recording ``<linkedid>-<epoch>.wav`` (plus ``-caller``/``-agent`` for the
two directions) from its own ids; the server checks a name has exactly that shape before it
touches a file, so nothing else (a caller's data, ``..``) can become a path here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callcenter.recording.errors import UnsafeRecordingPath
from callcenter.settings import AsteriskSettings
from hcrm_core.models import Recording

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}\.wav$")


@dataclass(frozen=True, slots=True)
class RecordingFiles:
    """The three files MixMonitor writes for one recording, as Asterisk sees them."""

    mixed: PurePosixPath
    caller: PurePosixPath
    agent: PurePosixPath


def files_for(file_name: str, asterisk: AsteriskSettings) -> RecordingFiles:
    """The files of the recording announced as ``File: <file_name>``; raises on odd names."""
    if not _NAME.match(file_name) or ".." in file_name:
        raise UnsafeRecordingPath(f"not a recording name: {file_name[:40]!r}")
    base = asterisk.recordings_asterisk_path
    stem = file_name[: -len(".wav")]
    return RecordingFiles(
        mixed=base / file_name,
        caller=base / f"{stem}-caller.wav",
        agent=base / f"{stem}-agent.wav",
    )


def local_path(asterisk_path: str | PurePosixPath, asterisk: AsteriskSettings) -> Path:
    """Where this server finds a file Asterisk wrote (``recordings_local_path`` mapping)."""
    path = PurePosixPath(asterisk_path)
    root = asterisk.recordings_asterisk_path
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise UnsafeRecordingPath(f"{path} is outside {root}") from None
    if ".." in relative.parts or len(relative.parts) != 1:
        raise UnsafeRecordingPath(f"{path} is not a file directly under {root}")
    local_root = asterisk.recordings_local_path or Path(str(root))
    return Path(local_root) / relative.parts[0]


def raw_files(recording: Recording, asterisk: AsteriskSettings) -> list[Path]:
    """This server's paths of MixMonitor's files (mixed, caller, agent); odd paths skipped."""
    files = []
    for path in (
        recording.asterisk_path,
        recording.caller_asterisk_path,
        recording.agent_asterisk_path,
    ):
        if path:
            try:
                files.append(local_path(path, asterisk))
            except UnsafeRecordingPath:
                continue
    return files
