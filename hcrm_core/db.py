"""Database engines and units of work.

``Database.transaction()`` is one write use case: one transaction, committed on success and
rolled back on any error. ``Database.session()`` is for reads.

SQLite needs care to be correct under concurrency: a deferred transaction that reads and then
writes can fail with SQLITE_BUSY without waiting (the busy handler cannot resolve a lock
upgrade), so write transactions start with ``BEGIN IMMEDIATE`` on their own engine and wait in
the busy handler instead; reads use a second engine with plain ``BEGIN``. WAL lets readers run
alongside the single writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hcrm_core.errors import StorageUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections an SQLite engine keeps open. Each aiosqlite connection is a thread plus four
# PRAGMAs to open; a pool that keeps only a few makes every burst of calls open (and then
# close) a dozen more on the event loop's time. Idle SQLite connections cost next to nothing.
SQLITE_KEPT_CONNECTIONS = 20
SQLITE_EXTRA_CONNECTIONS = 20


_UNAVAILABLE = "the hospital database cannot be reached right now; nothing was changed"


@contextmanager
def _unavailable_as_domain_error() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        # Lost or refused connections, a locked or unopenable SQLite file: the database is
        # away, not the request wrong. Integrity errors are DBAPIErrors too, and pass through.
        if not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
            raise
        raise StorageUnavailable(_UNAVAILABLE) from exc
    except OSError as exc:
        raise StorageUnavailable(_UNAVAILABLE) from exc


def _sqlite_engine(url: str, *, immediate: bool, echo: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=pool_size,
        max_overflow=SQLITE_EXTRA_CONNECTIONS,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Migrated files are in WAL mode already (hcrm_core/migrate.py): switching needs the
        # file to itself, so it is asked only of a file that is not.
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """The engines of one database URL and the session factories built on them."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            # Writers queue for SQLite's one write lock anyway: a few kept connections do.
            # (A pool opens connections only when asked: a small process never opens 20.)
            self.write_engine = _sqlite_engine(url, immediate=True, echo=echo, pool_size=5)
            self.read_engine = _sqlite_engine(
                url, immediate=False, echo=echo, pool_size=SQLITE_KEPT_CONNECTIONS
            )
        else:
            self.write_engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                # No pre-ping (a round trip per checkout): a connection the server dropped
                # fails its statement, is invalidated, and the next checkout gets a new one.
                pool_recycle=1800,
            )
            self.read_engine = self.write_engine
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write use case: commit on success, roll back on any exception.

        A database that cannot be reached raises :class:`StorageUnavailable` (nothing was
        committed), never the driver's own exception.
        """
        with _unavailable_as_domain_error():
            async with self._writer() as session, session.begin():
                yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work (nothing is committed)."""
        with _unavailable_as_domain_error():
            async with self._reader() as session, session.begin():
                yield session

    async def warm_up(self, connections: int | None = None) -> None:
        """Open the read pool's kept connections now (or ``connections`` of them), so that a
        burst of first calls does not pay for opening them on the event loop.

        Raises :class:`StorageUnavailable` when the database cannot be reached."""
        size = getattr(self.read_engine.pool, "size", None)
        kept = size() if callable(size) else 1
        count = kept if connections is None else max(1, min(connections, kept))
        with _unavailable_as_domain_error():
            async with AsyncExitStack() as stack:
                for _ in range(count):
                    await stack.enter_async_context(self.read_engine.connect())

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
