"""A small in-process fake AMI server on 127.0.0.1 (no Asterisk needed).

It speaks the parts of AMI the bridge relies on, byte for byte as Asterisk 22 sends them:
banner, Login (success, or "Authentication failed" and the session is closed), Logoff, Ping,
CoreShowChannels and QueueStatus event lists, PlayDTMF ("DTMF successfully queued", no Async
header) and an async Originate followed by OriginateResponse. Tests set the CoreShowChannels
rows, the actions simply acknowledged, and push events (recorded traffic) to the session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from callcenter.settings import AmiSettings

SECRET = "s3cret-不要记录"
NAME = "王芳"
WAIT = 3.0  # every wait on a condition gives up after this long


def frame(**headers: str) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def event(name: str, **headers: str) -> bytes:
    return frame(Event=name, **headers)


FULLY_BOOTED = event(
    "FullyBooted", Privilege="system,all", Uptime="12", LastReload="12", Status="Fully Booted"
)


@dataclass
class FakeSession:
    writer: asyncio.StreamWriter
    actions: list[dict[str, str]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        self.writer.write(data)


class FakeAmi:
    """In-process AMI server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, secret: str = SECRET, ssl: Any = None) -> None:
        self.secret = secret
        # CoreShowChannels rows (headers after Event/ActionID); by default one Local pair.
        self.channels: list[dict[str, str]] = [
            {
                "Channel": f"Local/s@sim-patient-00000001;{n}",
                "CallerIDNum": "13800138000",
                "CallerIDName": NAME,
                "Uniqueid": f"1700000000.{n}",
                "Linkedid": "1700000000.1",
            }
            for n in (1, 2)
        ]
        # Actions answered with a bare "Response: Success" (QueueAdd, Hangup...).
        self.succeed: set[str] = set()
        self.ssl = ssl
        self.booted = True
        self.answer_pings = True
        self.ignore_actions: set[str] = set()
        self.accept_and_close = False
        self.sessions: list[FakeSession] = []
        self.accepted_at: list[float] = []
        self.login_attempts = 0
        self.logins = 0
        self.logoffs = 0
        self.changed = asyncio.Condition()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.drop_all()
            await self.server.wait_closed()
            self.server = None

    def drop_all(self) -> None:
        for session in self.sessions:
            session.writer.close()

    def push(self, data: bytes) -> None:
        """Send events (e.g. recorded traffic) to the current session, as Asterisk would."""
        self.current.send(data)

    def actions(self, name: str) -> list[dict[str, str]]:
        """Every action of that name received, over all sessions, in order."""
        return [a for s in self.sessions for a in s.actions if a["Action"].lower() == name]

    @property
    def current(self) -> FakeSession:
        return self.sessions[-1]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT), self.changed:
            await self.changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted_at.append(time.monotonic())
        if self.accept_and_close:
            writer.close()
            await self._notify()
            return
        session = FakeSession(writer)
        self.sessions.append(session)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line
                )
                session.actions.append(headers)
                if not await self._answer(session, headers):
                    break
                await writer.drain()
                await self._notify()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await self._notify()

    async def _answer(self, session: FakeSession, action: dict[str, str]) -> bool:
        name = action["Action"].lower()
        aid = action.get("ActionID", "")
        if name in self.ignore_actions or (name == "ping" and not self.answer_pings):
            return True
        if name == "login":
            self.login_attempts += 1
            if action.get("Secret") != self.secret:
                session.send(frame(Response="Error", ActionID=aid, Message="Authentication failed"))
                return False  # Asterisk ends the session after a failed login
            self.logins += 1
            session.send(frame(Response="Success", ActionID=aid, Message="Authentication accepted"))
            if self.booted:
                session.send(FULLY_BOOTED)
        elif name == "logoff":
            self.logoffs += 1
            session.send(
                frame(Response="Goodbye", ActionID=aid, Message="Thanks for all the fish.")
            )
            return False
        elif name == "ping":
            session.send(frame(Response="Success", ActionID=aid, Ping="Pong", Timestamp="1.0"))
        elif name == "playdtmf":
            session.send(
                frame(Response="Success", ActionID=aid, Message="DTMF successfully queued")
            )
        elif name in self.succeed:
            session.send(frame(Response="Success", ActionID=aid, Message=f"{action['Action']} ok"))
        elif name == "coreshowchannels":
            self._core_show_channels(session, aid)
        elif name == "queuestatus":
            self._queue_status(session, aid)
        elif name == "originate":
            session.send(
                frame(Response="Success", ActionID=aid, Message="Originate successfully queued")
            )
            session.send(
                event(
                    "OriginateResponse",
                    ActionID=aid,
                    Response="Success",
                    Channel=action["Channel"],
                    Uniqueid=action.get("ChannelId", "1.1"),
                )
            )
        else:
            session.send(frame(Response="Error", ActionID=aid, Message="Invalid/unknown command"))
        return True

    def _core_show_channels(self, session: FakeSession, aid: str) -> None:
        session.send(
            frame(
                Response="Success",
                ActionID=aid,
                EventList="start",
                Message="Channels will follow",
            )
        )
        for row in self.channels:
            session.send(event("CoreShowChannel", ActionID=aid, **row))
        session.send(
            event(
                "CoreShowChannelsComplete",
                ActionID=aid,
                EventList="Complete",
                ListItems=str(len(self.channels)),
            )
        )

    def _queue_status(self, session: FakeSession, aid: str) -> None:
        session.send(
            frame(
                Response="Success",
                ActionID=aid,
                EventList="start",
                Message="Queue status will follow",
            )
        )
        session.send(event("QueueParams", ActionID=aid, Queue="cardiology", Calls="0"))
        session.send(
            event("QueueMember", ActionID=aid, Queue="cardiology", Location="Local/1001@agents")
        )
        session.send(
            event("QueueStatusComplete", ActionID=aid, EventList="Complete", ListItems="2")
        )


def ami_settings(port: int, **overrides: Any) -> AmiSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "callcenter",
        "secret": SecretStr(SECRET),
        "connect_timeout": 1.0,
        "action_timeout": 1.0,
        "ping_interval": 5.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
    }
    values.update(overrides)
    return AmiSettings(**values)
