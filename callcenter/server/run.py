"""``callcenter serve``: run the server until SIGTERM/SIGINT, then stop it in reverse order.

The parts and their order are the composition root's (:mod:`callcenter.server.root`); this
module adds what only a running process needs: signal handling, ``gc.freeze()`` once started,
and an optional background job (``callcenter demo``'s simulated callers).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable

from callcenter.server.files import restrict_umask
from callcenter.server.root import Server, start_server
from callcenter.server.single_process import single_sqlite_process
from callcenter.settings import Settings

_LOG = logging.getLogger(__name__)

BackgroundJob = Callable[[Server], Awaitable[None]]


async def run_server(
    settings: Settings,
    *,
    seed_demo: bool = False,
    background: BackgroundJob | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, then shut down cleanly in reverse order.

    ``background`` runs once the console serves, is given the started :class:`Server` to take
    what it needs from, and is cancelled first at shutdown; if it fails, the server stops.
    """
    # Before anything is created: the database, its WAL and recordings are patient data.
    restrict_umask()
    # A second process on one SQLite file is refused before it touches anything.
    with single_sqlite_process(settings.database_url):
        await _run(settings, seed_demo, background)


async def _run(settings: Settings, seed_demo: bool, background: BackgroundJob | None) -> None:
    server = await start_server(settings, seed_demo=seed_demo)
    # Everything loaded so far (modules, settings, caches) lives as long as the process: keep
    # it out of the collector's full passes, which otherwise pause the loop for 100+ ms.
    gc.freeze()
    stop = asyncio.Event()
    extra: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        _LOG.info(
            "console on http://%s:%s/ ; AMI %s:%s ; database %s",
            settings.web.host,
            settings.web.port,
            settings.ami.host,
            settings.ami.port,
            server.database.dialect,
        )
        if background is not None:
            extra = asyncio.create_task(_run_background(background, server, stop))
        await stop.wait()
        _LOG.info("shutting down")
    finally:
        if extra is not None:
            extra.cancel()
            await asyncio.gather(extra, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await server.stop()


async def _run_background(job: BackgroundJob, server: Server, stop: asyncio.Event) -> None:
    """A background job that fails stops the server (it was asked for, so say it broke)."""
    try:
        await job(server)
    except asyncio.CancelledError:
        raise
    except Exception:
        _LOG.exception("background job failed: stopping the server")
        stop.set()
