"""``callcenter demo``: the whole product on the sandbox, with simulated patients calling in.

What the command does, in order (the CLI runs the steps; this module holds their logic):

1. refuses anything but the sandboxed Asterisk (:func:`require_sandbox`): the demo places
   calls and signs robot agents in, which must never happen on a hospital's PBX;
2. starts the sandbox (or reloads it with freshly rendered configuration), migrates and seeds
   the database when empty, creates the demo users (:func:`ensure_demo_users`) and renders the
   IVR prompts;
3. runs the server with :func:`demo_background` alongside: two robot agents are signed in to
   the queues, and :class:`~callcenter.demo.callers.DemoCallers` places a call every
   ``mean_gap`` seconds on average.

Demo agents' phones are ``Local/<extension>@sim-agents`` queue members that answer by
themselves, so a person who logs in as ``agent1`` (extension 1001) and signs in at the desk
sees real screen pops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import ipaddress
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk import const
from callcenter.asterisk.render import sim_driver_user
from callcenter.asterisk.sandbox import AsteriskSandbox, SandboxError
from callcenter.bus import EventBus
from callcenter.demo.callees import DemoCallees
from callcenter.demo.callers import DemoCallers, StreamSettings, known_callers
from callcenter.demo.campaigns import DemoCampaign, ensure_demo_campaigns
from callcenter.errors import CallcenterError
from callcenter.recording.keys import with_recording_key
from callcenter.settings import Settings, SpeechModelSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DomainError
from hcrm_core.models import Role, User, utcnow
from hcrm_core.services.users import create_user, set_extension

_LOG = logging.getLogger(__name__)

DEMO_INTERFACE = "Local/{extension}@" + const.CONTEXT_SIM_AGENTS
LOGINS_FILE = "demo-logins.txt"
# agent1..agent6 on extensions 1001..1006; the last two are signed in by the demo itself.
AGENTS = tuple((f"agent{n}", f"Demo Agent {n}", f"100{n}") for n in range(1, 7))
ROBOTS = AGENTS[-2:]
# The supervisor's phone: Local/1900@sim-supervisors, which answers and stays.
SUPERVISOR = ("supervisor", "Demo Supervisor", "1900")
# Presented on campaign calls and click-to-dial: the fictional 555-01XX range.
DEMO_CALLER_ID = "+12125550100"


class DemoRefused(CallcenterError):
    """The demo will not run here; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str
    extension: str | None


def demo_settings(settings: Settings) -> Settings:
    """The site settings made to show every part on the sandbox.

    - agent phones are the sandbox's auto-answering extensions, and click-to-dial reaches
      simulated patients who pick up (``sim-callee``), as do campaign calls;
    - the hospital presents a caller ID (a fictional 555-01XX number) unless one is set;
    - queue calls are recorded (unless a policy is configured) and processed where the
      sandbox's Asterisk writes them, encrypted at rest (a key made once under the data
      directory, mode 0600), transcribed by the bundled Korean model;
    - speech input is on: the bundled Korean model hears English callers' yes/no and
      department names (Mandarin callers use the keypad: no model for them);
    - the supervisor's phone answers by itself (``sim-supervisors``) for Listen/Whisper/Barge;
    - queues changed in the console are written into the sandbox's configuration and reloaded.
    """
    box = AsteriskSandbox(settings)
    agents_update: dict[str, object] = {
        "interface": DEMO_INTERFACE,
        "dial_context": const.CONTEXT_SIM_CALLEE,
    }
    if "wrapup_until_disposition" in type(settings.agents).model_fields:
        # The robot agents never save a disposition: wrap-up ends on the timer, or they
        # would stay paused after their first call and the queues fill up.
        agents_update["wrapup_until_disposition"] = False
    agents = settings.agents.model_copy(update=agents_update)
    asterisk = settings.asterisk
    updates: dict[str, object] = {}
    if asterisk.config_dir is None:
        updates["config_dir"] = box.root / "etc/asterisk"
    if asterisk.recordings_local_path is None:
        updates["recordings_local_path"] = box.recordings_dir
    if asterisk.speech_local_path is None:
        inside = asterisk.speech_asterisk_path.relative_to("/")
        updates["speech_local_path"] = box.root / str(inside)
    asterisk = asterisk.model_copy(update=updates)
    recording = settings.recording.model_copy(
        update={"supervisor_dial": "Local/{extension}@" + const.CONTEXT_SIM_SUPERVISORS}
    )
    if recording.default_policy == "never" and not recording.queue_policies:
        recording = recording.model_copy(update={"default_policy": "always"})
    hospital = settings.hospital
    if not hospital.caller_id_number:
        hospital = hospital.model_copy(update={"caller_id_number": DEMO_CALLER_ID})
    speech = settings.speech
    if not speech.enabled:
        model = SpeechModelSettings(language="ko")  # the bundled model
        speech = speech.model_copy(update={"enabled": True, "models": {"en": model}})
    outbound = settings.outbound.model_copy(
        update={"dial_channel": "Local/{number}@" + const.CONTEXT_SIM_CALLEE}
    )
    # Ctrl-C: campaign dialogs still running are cut after a few seconds, not the site's 30.
    agi = settings.agi.model_copy(update={"drain_seconds": min(settings.agi.drain_seconds, 5.0)})
    update = {
        "agi": agi,
        "agents": agents,
        "asterisk": asterisk,
        "recording": recording,
        "hospital": hospital,
        "speech": speech,
        "outbound": outbound,
    }
    return with_recording_key(settings.model_copy(update=update))


def _is_loopback(host: str) -> bool:
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
        )
    except (OSError, ValueError):
        return False


def require_sandbox(settings: Settings, box: AsteriskSandbox | None = None) -> str:
    """Start (or reload) the sandbox Asterisk; refuse any other PBX. Returns its status text.

    The sandbox listens on loopback only and is recognised by its chroot's pid: an Asterisk
    configured elsewhere in ``[ami]`` (a hospital's) is never the demo's target.
    """
    if not _is_loopback(settings.ami.host):
        raise DemoRefused(
            f"ami.host is {settings.ami.host!r}: the demo only runs against the sandboxed "
            "Asterisk on this machine's loopback, never a site's PBX"
        )
    if os.geteuid() != 0:
        raise DemoRefused("the demo needs root to run the sandboxed Asterisk (a chroot)")
    box = box or AsteriskSandbox(settings)
    try:
        status = box.start()
    except SandboxError as exc:
        raise DemoRefused(f"the Asterisk sandbox did not start: {exc}") from exc
    if not status.running or box.pid() is None:
        raise DemoRefused("the Asterisk answering on the AMI port is not the sandbox's")
    return status.describe()


# Test sessions hold this file shared while they use the sandbox (tests/support/
# asterisk_sandbox.py): the demo stops Asterisk on exit only when none does.
SESSIONS_LOCK = ".sessions"


def release_sandbox(box: AsteriskSandbox) -> str:
    """At the demo's end: stop the sandbox Asterisk, so nothing of the demo (its configuration,
    queue members, calls) lingers for the next user, unless a test session is using it now.
    Returns what was done, for the console."""
    box.base.mkdir(parents=True, exist_ok=True)
    with (box.base / SESSIONS_LOCK).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "sandbox Asterisk left running: a test session is using it"
        try:
            box.stop()
        except SandboxError as exc:
            return f"sandbox Asterisk could not be stopped: {exc}"
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return "sandbox Asterisk stopped"


# -- users -------------------------------------------------------------------------------------


async def ensure_demo_users(database: Database, data_dir: Path) -> list[DemoLogin]:
    """Create the demo agents and supervisor once, with random passwords kept in a 0600 file.

    Users that exist already keep their password (the file says what it was when made).
    """
    path = data_dir / LOGINS_FILE
    known = _read_logins(path)
    wanted: list[tuple[str, str, Role, str | None]] = [(u, n, Role.AGENT, e) for u, n, e in AGENTS]
    wanted.append((SUPERVISOR[0], SUPERVISOR[1], Role.SUPERVISOR, SUPERVISOR[2]))
    phoneless: list[tuple[int, str, str]] = []
    async with database.transaction() as session:
        existing = {u.username: u for u in await session.scalars(select(User))}
        for username, name, role, extension in wanted:
            if username in existing:
                user = existing[username]
                if extension and not user.extension:
                    phoneless.append((user.id, username, extension))
                continue
            password = secrets.token_urlsafe(9)
            await create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=name,
                extension=extension,
            )
            known[username] = DemoLogin(username, password, role.value, extension)
    # A demo database from before the supervisor had a phone: give it one (audited).
    for user_id, username, extension in phoneless:
        await set_extension(database, user_id, extension, Actor("demo"))
        if username in known:
            known[username] = dataclasses.replace(known[username], extension=extension)
    _write_logins(path, known.values())
    return [known[u] for u, *_ in wanted if u in known]


def _read_logins(path: Path) -> dict[str, DemoLogin]:
    logins: dict[str, DemoLogin] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                extension = parts[3] if len(parts) > 3 else None
                logins[parts[0]] = DemoLogin(parts[0], parts[1], parts[2], extension)
    return logins


def _write_logins(path: Path, logins: Iterable[DemoLogin]) -> None:
    lines = ["# demo console logins: username password role [extension]"]
    lines += [" ".join(filter(None, (x.username, x.password, x.role, x.extension))) for x in logins]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")


# -- running -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def signed_in_robots(
    agents: AgentService, robots: Sequence[tuple[int, str, str]]
) -> AsyncIterator[list[str]]:
    """Sign demo agents in through the agent desk, so the board moves before anyone logs in.

    ``robots`` are ``(user id, username, extension)``; their phones answer by themselves
    (``Local/1XXX@sim-agents``). Yields their queue interfaces; signs them out on exit.
    """
    signed: list[str] = []
    try:
        interfaces = []
        for user_id, username, extension in robots:
            status = await agents.sign_in(user_id, username, extension)
            signed.append(username)
            interfaces.append(status.interface)
        yield interfaces
    finally:
        for username in signed:
            with contextlib.suppress(DomainError):
                await agents.sign_out(username)


async def _robot_users(database: Database) -> list[tuple[int, str, str]]:
    names = [username for username, _n, _e in ROBOTS]
    async with database.session() as session:
        rows = await session.execute(
            select(User.id, User.username, User.extension).where(User.username.in_(names))
        )
        return [(uid, name, ext) for uid, name, ext in rows if ext]


async def demo_background(
    settings: Settings,
    *,
    ami: AmiBridge,
    database: Database,
    agents: AgentService,
    stream: StreamSettings,
    started: float | None = None,
    served: float | None = None,
) -> None:
    """Run beside the server: robot agents in every queue, simulated patients calling, and
    simulated patients answering the campaigns' calls.

    ``ami`` is the server's bridge (waited for before the first call), ``database`` where the
    callers' numbers and the robots' users are read, ``agents`` the desk that signs them in;
    ``started`` and ``served`` (``time.monotonic()`` at the command's start and when the server
    started, after the preparation) make the log say how long the demo took to be live.
    """
    await ami.wait_ready(120)
    driver_settings = settings.ami.model_copy(
        update={
            "username": const.SIM_DRIVER_USERNAME,
            "secret": SecretStr(sim_driver_user(settings).secret),
        }
    )
    bus = EventBus()
    driver = AmiBridge(driver_settings, bus)
    await driver.start()
    callers = DemoCallers(driver, bus, await known_callers(database), stream)
    callees = DemoCallees(driver, bus, settings.outbound.channel_prefix)
    try:
        await driver.wait_ready(60)
        callees.start()
        callers.start()
        robots = await _robot_users(database)
        async with signed_in_robots(agents, robots):
            _LOG.info(
                "demo: live%s: %d robot agents signed in, simulated patients calling and "
                "answering the campaigns",
                _live_after(started, served),
                len(robots),
            )
            await callers.run()
    finally:
        await callers.stop()
        await callees.stop()
        await driver.stop()
        await bus.close()


def _live_after(started: float | None, served: float | None) -> str:
    now = time.monotonic()
    parts = [f"{now - started:.0f} s after start"] if started is not None else []
    if served is not None:
        parts.append(f"{now - served:.0f} s after the server started")
    return f" {', '.join(parts)}" if parts else ""


async def demo_users(settings: Settings) -> list[DemoLogin]:
    """:func:`ensure_demo_users` on the configured database (for the CLI)."""
    database = Database(settings.database_url)
    try:
        return await ensure_demo_users(database, settings.data_dir)
    finally:
        await database.dispose()


async def demo_campaigns(settings: Settings) -> list[DemoCampaign]:
    """:func:`ensure_demo_campaigns` on the configured database (for the CLI)."""
    database = Database(settings.database_url)
    try:
        return await ensure_demo_campaigns(database, settings.booking_policy(), utcnow())
    finally:
        await database.dispose()


def describe_campaigns(settings: Settings, campaigns: Sequence[DemoCampaign]) -> str:
    base = f"http://{settings.web.host}:{settings.web.port}"
    lines = ["Campaigns dialling simulated patients (08:00-21:00 hospital time, every day):"]
    lines += [
        f"  {c.name}: {c.status}"
        + (f", {c.scheduled} calls scheduled" if c.scheduled else "")
        + f" ({base}/campaigns/{c.id})"
        for c in campaigns
    ]
    return "\n".join(lines)


def describe_tries(settings: Settings) -> str:
    """What to try in the console, once logged in."""
    base = f"http://{settings.web.host}:{settings.web.port}"
    return "\n".join(
        [
            "What to try:",
            f"  agent1: sign in at {base}/desk; queue calls pop the caller's card; click-to-dial"
            f" a patient (caller ID {settings.hospital.caller_id_number})",
            f"  supervisor: the live board at {base}/supervisor; Listen, Whisper or Barge on a"
            " call (your sandbox phone, extension "
            f"{SUPERVISOR[2]}, answers by itself)",
            f"  recordings of queue calls, playable, with transcripts: {base}/recordings (the"
            " robot agents' synthetic Korean is transcribed by the bundled model, not readably)",
            "  campaign results: confirmed, cancelled, opted out; a follow-up task for each"
            " patient who feels poorly",
            '  speech: some callers say "네" (yes) at the IVR\'s confirmation (the bundled'
            " Korean model hears English callers)",
        ]
    )


def describe_logins(settings: Settings, logins: Sequence[DemoLogin]) -> str:
    robots = {username for username, _n, _e in ROBOTS}
    lines = [
        f"Open http://{settings.web.host}:{settings.web.port}/ and log in as:",
        *(
            f"  {x.username:<11} {x.password:<14} {x.role}"
            + (f", extension {x.extension}" if x.extension else "")
            + (" (signed in by the demo)" if x.username in robots else "")
            for x in logins
        ),
        f"(kept in {settings.data_dir / LOGINS_FILE}, readable by you only)",
    ]
    return "\n".join(lines)
