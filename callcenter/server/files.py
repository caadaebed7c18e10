"""Who may read the server's files: patient data and secrets are the server user's alone.

Two measures, both taken once at start. :func:`restrict_umask` makes everything the process
creates from then on private (files 0600, directories 0700): the SQLite database, its WAL,
processed recordings, secrets. :func:`secure_data_files` repairs what an earlier run (or an
older version, which set no umask) left readable by others, and logs a warning naming each
path it cannot repair (owned by another user, a read-only mount).

SQLite creates its ``-wal`` and ``-shm`` files with the database file's own mode, so a
database file that is 0600 keeps them 0600 too.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from callcenter.recording.keys import KEY_FILE
from callcenter.settings import Settings

_LOG = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Written by ``callcenter demo`` (callcenter/demo/run.py, LOGINS_FILE): passwords in clear.
DEMO_LOGINS = "demo-logins.txt"
SECRETS_FILE = "secrets.toml"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def restrict_umask() -> int:
    """Make every file and directory this process creates private; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


@dataclass(slots=True)
class FileCheck:
    """What :func:`secure_data_files` did: paths repaired and paths it could not repair."""

    fixed: list[Path] = field(default_factory=list)
    unfixable: list[tuple[Path, str]] = field(default_factory=list)


def owned_paths(settings: Settings) -> tuple[list[Path], list[Path]]:
    """The server's private directories and files (only those that exist are checked)."""
    # Imported here: the CLI sets its umask from this module on every command, cheaply.
    from callcenter.recording.processor import processed_dir

    data_dir = settings.data_dir
    dirs = [data_dir, processed_dir(settings.recording, data_dir)]
    files = [data_dir / SECRETS_FILE, data_dir / KEY_FILE, data_dir / DEMO_LOGINS]
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        files.append(database)
        files += [database.with_name(database.name + side) for side in _SQLITE_SIDE_FILES]
    return dirs, files


def secure_data_files(settings: Settings) -> FileCheck:
    """Give the server's directories mode 0700 and its files 0600 (processed recordings
    included); warn, naming the path, about each one that cannot be changed."""
    check = FileCheck()
    dirs, files = owned_paths(settings)
    for directory in dirs:
        _restrict(directory, PRIVATE_DIR, check)
    recordings = dirs[1]
    if recordings.is_dir():
        try:
            files += [entry for entry in recordings.iterdir() if entry.is_file()]
        except OSError as exc:
            check.unfixable.append((recordings, exc.strerror or type(exc).__name__))
    for path in files:
        _restrict(path, PRIVATE_FILE, check)
    for path in check.fixed:
        _LOG.info("file modes: %s was readable by others; now private", path)
    for path, reason in check.unfixable:
        _LOG.warning("file modes: %s is readable by others and cannot be fixed: %s", path, reason)
    return check


def _restrict(path: Path, mode: int, check: FileCheck) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    except OSError as exc:
        check.unfixable.append((path, exc.strerror or type(exc).__name__))
        return
    if not current & 0o077:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        check.unfixable.append((path, exc.strerror or type(exc).__name__))
        return
    check.fixed.append(path)
