"""The shared sandbox rig: a bus recorder, AMI settings for the sandbox's two users, and a
minimal runtime (bus, call log writer, call tracker, AMI bridge) on one test database.

Calls are made without SIP: ``Local/...@sim-patient`` callers and ``Local/...@sim-agents``
queue members. Every wait is on a bus item with a timeout, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from sqlalchemy import select

from callcenter.ami.bridge import AmiBridge
from callcenter.asterisk import const
from callcenter.bus import EventBus
from callcenter.calls.call_log import CallLogWriter
from callcenter.calls.state import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallQueued,
    CallStarted,
)
from callcenter.calls.tracker import CallTracker
from callcenter.settings import AgiSettings, AmiSettings, Settings
from hcrm_core.db import Database
from hcrm_core.models import Call
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

T = TypeVar("T")
WAIT = 20.0
QUEUE = const.FALLBACK_QUEUE
NOTICES = (CallStarted, CallQueued, AgentRinging, CallAnswered, CallEnded)


class Recorder:
    """Everything published on a bus, with a way to wait for an item matching a condition."""

    def __init__(self, bus: EventBus) -> None:
        self.items: list[object] = []
        self._changed = asyncio.Condition()
        bus.subscribe(object, self._record, name="test-recorder", maxsize=1_000_000)

    async def _record(self, item: object) -> None:
        async with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def of(self, kind: type[T], predicate: Callable[[T], bool] = lambda _: True) -> list[T]:
        return [i for i in self.items if isinstance(i, kind) and predicate(i)]

    async def wait_for(
        self,
        kind: type[T],
        predicate: Callable[[T], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = WAIT,  # noqa: ASYNC109 - a test's patience
    ) -> list[T]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.of(kind, predicate)) >= count)
        return self.of(kind, predicate)

    def notices(self, linkedid: str) -> list[object]:
        return [i for i in self.items if isinstance(i, NOTICES) and i.linkedid == linkedid]


def ami_settings(box: AsteriskSandboxHandle, **overrides: Any) -> AmiSettings:
    """The server's AMI user on the sandbox, reconnecting and pinging quickly."""
    values = {"reconnect_min": 0.2, "reconnect_max": 1.0, "ping_interval": 2.0, **overrides}
    settings: AmiSettings = box.settings.ami.model_copy(update=values)
    return settings


def driver_ami_settings(box: AsteriskSandboxHandle) -> AmiSettings:
    """The sandbox-only driver user: it also sees AGI and DTMF events, to press keys on cue."""
    return ami_settings(box, username=box.driver_username, secret=SecretStr(box.driver_secret))


def runtime_settings(box: AsteriskSandboxHandle, data_dir: Path) -> Settings:
    """Whole-server settings on the sandbox, in ``data_dir``."""
    # FastAGI on a free port: the sandbox's own port may be taken by another test session.
    settings: Settings = box.settings.model_copy(
        update={"data_dir": data_dir, "agi": AgiSettings(port=0), "ami": ami_settings(box)}
    )
    return settings


@dataclass
class Rig:
    """A minimal runtime: bus, call log writer, tracker and bridge on one database."""

    database: Database
    bus: EventBus
    recorder: Recorder
    writer: CallLogWriter
    tracker: CallTracker
    bridge: AmiBridge

    async def stop(self) -> None:
        await self.bridge.stop()
        await self.tracker.stop()
        await self.writer.stop()
        await self.bus.close()

    async def originate_caller(
        self,
        caller: str,
        *,
        context: str,
        exten: str,
        variables: Mapping[str, str],
        caller_id: str | None = None,
    ) -> str:
        """Originate ``Local/<caller>@sim-patient`` into ``context,exten``; returns its Linkedid."""
        linkedid = f"cc-{uuid.uuid4().hex[:16]}"
        await self.bridge.originate(
            f"Local/{caller}@{const.CONTEXT_SIM_PATIENT}",
            context=context,
            exten=exten,
            caller_id=caller_id,
            channel_id=linkedid,  # the ;1 half's Uniqueid, hence the call's Linkedid
            variables=variables,
        )
        return linkedid

    async def ended(self, linkedid: str, timeout: float = WAIT) -> CallEnded:  # noqa: ASYNC109
        (notice,) = await self.recorder.wait_for(
            CallEnded, lambda n: n.linkedid == linkedid, timeout=timeout
        )
        return notice

    async def row(self, linkedid: str) -> Call:
        await self.writer.flush()
        async with self.database.session() as session:
            return (await session.scalars(select(Call).where(Call.linkedid == linkedid))).one()


async def open_rig(
    database: Database, box: AsteriskSandboxHandle, *, campaign_prefix: str | None = None
) -> Rig:
    """Start a rig's parts (the bridge connects in the background); ``Rig.stop`` ends them."""
    bus = EventBus()
    recorder = Recorder(bus)
    writer = CallLogWriter(database, flush_interval=0.05)
    await writer.start()
    tracker = CallTracker(
        bus,
        writer,
        database,
        None,
        inbound_contexts=[const.CONTEXT_INBOUND],
        campaign_prefix=campaign_prefix,
    )
    await tracker.start()
    bridge = AmiBridge(ami_settings(box), bus)
    await bridge.start()
    return Rig(database, bus, recorder, writer, tracker, bridge)


@contextlib.asynccontextmanager
async def queue_member(bridge: AmiBridge, extension: str) -> AsyncIterator[str]:
    """A simulated agent phone in the test queue (1XXX answer, 2XXX ring forever)."""
    interface = f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"
    await bridge.send_action(
        {"Action": "QueueAdd", "Queue": QUEUE, "Interface": interface, "MemberName": extension}
    )
    try:
        yield interface
    finally:
        await bridge.send_action({"Action": "QueueRemove", "Queue": QUEUE, "Interface": interface})


# Each series' 900 extensions, dealt in a random order once per test process: no two agents of
# the run share one (a repeat would be refused as "signed in by another agent", or ring the
# member an earlier test left in wrap-up), and the random order keeps test runs of other people
# on the shared sandbox off this run's extensions too.
_DECKS: dict[int, list[int]] = {}


def agent_extension(series: int) -> str:
    """An extension of the series (1XXX answer by themselves, 2XXX ring unanswered) that no
    other agent of this test run has: unique across the run, not just within a test."""
    deck = _DECKS.get(series)
    if not deck:
        deck = _DECKS[series] = random.sample(range(100, 1000), 900)
    return f"{series}{deck.pop()}"
