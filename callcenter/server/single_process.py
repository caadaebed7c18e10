"""One ``callcenter serve`` per SQLite database: a second one is refused with a clear reason.

SQLite is the embedded single-process default. Sessions, login throttles and the call log
live in the database, but one SQLite file behind several processes would let each dial its
own campaigns and write its own copy of the call log, and SQLite's one writer would throttle
them all. So a process that serves an SQLite database holds an exclusive OS lock on a file
beside it (``<database>.serve-lock``) for its whole life; the kernel drops the lock when the
process ends, however it ends (``kill -9`` included), so no stale lock is ever left behind.
Several processes need PostgreSQL (docs/scale.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from callcenter.errors import CallcenterError

LOCK_SUFFIX = ".serve-lock"


class AnotherServerRunning(CallcenterError):
    """Another process already serves this SQLite database."""


def sqlite_file(database_url: str) -> Path | None:
    """The database file of an SQLite URL; None for PostgreSQL or an in-memory database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


@contextlib.contextmanager
def single_sqlite_process(database_url: str) -> Iterator[None]:
    """Hold the SQLite database's serve lock while the block runs (nothing for PostgreSQL).

    Raises :class:`AnotherServerRunning`, naming the database, when another process holds it.
    """
    database = sqlite_file(database_url)
    if database is None:
        yield
        return
    lock_path = database.with_name(database.name + LOCK_SUFFIX)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: the holder's pid stays readable for the refusal message.
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise AnotherServerRunning(
                f"another callcenter server (pid {holder}) already serves the SQLite database "
                f"{database}; SQLite serves one process only. To run several server processes, "
                "use PostgreSQL (database.url = 'postgresql+asyncpg://...'; see docs/scale.md)."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
