"""Classic AGI: ``callcenter-agi``, one process per call over stdin/stdout (pyst2).

For sites that will not open a FastAGI port. Asterisk runs ``AGI(/path/to/callcenter-agi)``;
this process reads the AGI environment with pyst2, opens its own database connection from the
settings file and runs the same dialog as the FastAGI server (``callcenter.ivr.plugin``) over
:class:`PipeTransport`. Only the transport differs: commands are built and replies parsed by
:class:`callcenter.agi.channel.AgiChannel` in both modes.

The route is the first AGI argument (``AGI(/path/callcenter-agi,ivr)``) or else the script's
file name, so a directory of links named after the routes (``.../callcenter/ivr``) works with
the rendered dialplan's ``AGI(${CALLCENTER_AGI}/ivr)``.

What is not available per process: speech input (loading a Vosk model takes seconds per call)
and the server's call tracker (IVR progress stays in this process's log).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

from callcenter.agi.channel import AgiChannel, AgiEnvironment
from callcenter.settings import Settings, SettingsError, load_settings

_LOG = logging.getLogger(__name__)
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class PipeTransport:
    """Classic AGI's stdin/stdout, driven through pyst2's :class:`asterisk.agi.AGI`.

    pyst2 writes each command and turns Asterisk's SIGHUP into a hang-up; reply lines are read
    raw (in a worker thread, so the event loop keeps serving the database driver) and parsed
    by :class:`AgiChannel` exactly as for FastAGI.
    """

    def __init__(self, agi: Any) -> None:
        self._agi = agi

    async def send(self, data: bytes) -> None:
        from asterisk.agi import AGIHangup

        try:
            self._agi.test_hangup()
            self._agi.send_command(data.decode("utf-8").rstrip("\n"))
        except (AGIHangup, OSError) as exc:
            raise ConnectionError("Asterisk hung up the AGI script") from exc

    async def readline(self) -> bytes:
        line: str | bytes = await asyncio.to_thread(self._agi.stdin.readline)
        return line if isinstance(line, bytes) else line.encode("utf-8")


def route_of(env: AgiEnvironment) -> str:
    """The dialog to run: the first AGI argument, else the script's file name."""
    if env.arguments:
        return env.arguments[0]
    return PurePosixPath(env.raw.get("agi_request", "")).name


def open_agi(stdin: IO[str], stdout: IO[str]) -> tuple[Any, AgiEnvironment]:
    """Read the AGI environment with pyst2. Its trace of every line (which echoes caller ID)
    is discarded: no patient data may reach Asterisk's console or logs."""
    from asterisk.agi import AGI

    agi = AGI(stdin=stdin, stdout=stdout, stderr=_Sink())
    env = AgiEnvironment.parse(agi.env)
    return agi, dataclasses.replace(env, script=route_of(env))


class _Sink:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


async def run_classic(settings: Settings, agi: Any, env: AgiEnvironment) -> bool:
    """Run the routed dialog for this one call; True when it ended normally."""
    from callcenter.agi.server import DEFAULT_CALL_TIMEOUT, run_flow
    from callcenter.bus import EventBus
    from callcenter.ivr.lockout import IdentityLockout
    from callcenter.ivr.plugin import after_hours_services, build_routes
    from callcenter.ivr.queue_handoff import QueueRouting
    from hcrm_core.db import Database
    from hcrm_core.services.appointments import AppointmentService
    from hcrm_core.services.patients import PatientService
    from hcrm_core.services.scheduling import SchedulingService

    database = Database(settings.database_url, pool_size=1)
    bus = EventBus()
    policy = settings.booking_policy()
    try:
        routes = build_routes(
            bus,
            patients=PatientService(database, policy),
            scheduling=SchedulingService(database, policy),
            appointments=AppointmentService(database, policy),
            timezone=settings.hospital.timezone,
            lockout=IdentityLockout(database, settings.ivr),
            ask_recording_consent=settings.recording.consent == "ask",
            routing=QueueRouting(database),
            after_hours=after_hours_services(database, settings),
        )
        flow = routes.get(env.script)
        if flow is None:
            _LOG.error("classic AGI: no route %r (channel=%s)", env.script, env.channel)
            return False
        channel = AgiChannel(env, PipeTransport(agi), command_timeout=settings.agi.command_timeout)
        return await run_flow(flow, channel, call_timeout=DEFAULT_CALL_TIMEOUT, kind="AGI")
    finally:
        await bus.close()
        await database.dispose()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="callcenter-agi",
        description="Run one IVR call as a classic AGI script (Asterisk starts it per call).",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="settings file (default: $CALLCENTER_CONFIG, else defaults and environment)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``callcenter-agi``; the exit status is only for Asterisk's log."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="callcenter-agi %(levelname)s %(message)s"
    )
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    agi, env = open_agi(sys.stdin, sys.stdout)
    ok = asyncio.run(run_classic(settings, agi, env))
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
