"""Calls in the sandbox, driven and observed over AMI with the production user's classes.

No SIP: an Originate of ``Local/s@sim-patient`` makes a call whose far end is dialplan, and the
simulation contexts raise UserEvents as checkpoints; tests wait for events, never sleep.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from callcenter.asterisk import const
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

pytestmark = pytest.mark.asterisk

WAIT = 20.0


async def raw_login(host: str, port: int, username: str, secret: str) -> dict[str, str]:
    """Log in over a bare TCP socket and return the response headers."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        banner = await asyncio.wait_for(reader.readline(), WAIT)
        assert banner.startswith(const.AMI_BANNER_PREFIX.encode())
        writer.write(
            f"Action: Login\r\nActionID: login-1\r\nUsername: {username}\r\n"
            f"Secret: {secret}\r\nEvents: off\r\n\r\n".encode()
        )
        await writer.drain()
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), WAIT)) not in (b"\r\n", b""):
            key, _, value = line.decode().rstrip("\r\n").partition(": ")
            headers[key] = value
        return headers
    finally:
        writer.close()
        await writer.wait_closed()


async def test_ami_login_accepts_the_right_secret(
    asterisk_sandbox: AsteriskSandboxHandle,
) -> None:
    box = asterisk_sandbox
    reply = await raw_login(box.ami_host, box.ami_port, box.ami_username, box.ami_secret)
    assert reply["Response"] == "Success", reply
    assert reply["Message"] == "Authentication accepted"


async def test_ami_login_rejects_a_wrong_secret(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    box = asterisk_sandbox
    wrong = "wrong-" + uuid.uuid4().hex
    reply = await raw_login(box.ami_host, box.ami_port, box.ami_username, wrong)
    assert reply["Response"] == "Error", reply
    assert reply["Message"] == "Authentication failed"


class EventLog:
    """Collects AMI events and lets a test wait for one matching a predicate."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self._changed = asyncio.Condition()

    async def add(self, _manager: Manager, event: Message) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def wait_for(
        self, match: Callable[[Message], bool], *, call: str = "", within: float = WAIT
    ) -> Message:
        """The first event ``match`` accepts; after ``within`` s a failure that lists what
        Asterisk said of ``call`` (a Linkedid) meanwhile, as the reason."""

        def found() -> Message | None:
            return next((e for e in self.events if match(e)), None)

        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: found() is not None)
        except TimeoutError:
            seen = [
                f"{e.event} {e.get('Channel', '')} {e.get('Interface', '')}".strip()
                for e in self.events
                if call and e.get("Linkedid") == call
            ]
            raise AssertionError(f"no such event in {within}s; {call!r} had: {seen}") from None
        event = found()
        assert event is not None
        return event


class OneSessionManager(Manager):
    """panoramisk reconnects whenever a connection is lost, even after close(); tests must not."""

    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            super().connection_lost(exc)


@pytest.fixture
async def ami(asterisk_sandbox: AsteriskSandboxHandle) -> AsyncIterator[tuple[Manager, EventLog]]:
    """A panoramisk session as the server's AMI user, with every event logged."""
    logged_in: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_login(_manager: Manager) -> None:
        if not logged_in.done():
            logged_in.set_result(True)

    manager = OneSessionManager(
        host=asterisk_sandbox.ami_host,
        port=asterisk_sandbox.ami_port,
        username=asterisk_sandbox.ami_username,
        secret=asterisk_sandbox.ami_secret,
        loop=asyncio.get_running_loop(),
        on_login=on_login,
    )
    log = EventLog()
    manager.register_event("*", log.add)
    await manager.connect()
    await asyncio.wait_for(logged_in, WAIT)
    yield manager, log
    manager.close()


def user_event(name: str, step: str, linkedid: str) -> Callable[[Message], bool]:
    return lambda e: (
        e.event == "UserEvent"
        and e.get("UserEvent") == name
        and e.get("Step") == step
        and e.get("Linkedid") == linkedid
    )


async def single_reply(manager: Manager, action: dict[str, str]) -> Message:
    # panoramisk 1.4 takes "Added interface to queue" for the start of an event list and would
    # wait forever for its end; as_list=False says the one response is the whole answer.
    reply: Message = await asyncio.wait_for(manager.send_action(action, as_list=False), WAIT)
    return reply


async def originate(manager: Manager, channel: str, call_id: str, **fields: Any) -> Message:
    # Async: true gives one response now and an OriginateResponse later; panoramisk 1.4 resolves
    # the future with both. (Without it, "successfully queued" hits panoramisk's KeyError bug.)
    action = {
        "Action": "Originate",
        "Channel": channel,
        "ChannelId": call_id,
        "Async": "true",
        "Timeout": "15000",
        **fields,
    }
    replies = await asyncio.wait_for(manager.send_action(action), WAIT)
    assert isinstance(replies, list), replies
    response, outcome = replies[0], replies[-1]
    assert response.response == "Success", response
    return outcome


async def test_simulated_patient_plays_and_signals(
    ami: tuple[Manager, EventLog],
) -> None:
    manager, log = ami
    call_id = f"sandbox-test-{uuid.uuid4().hex[:12]}"
    outcome = await originate(
        manager,
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        call_id,
        Context=const.CONTEXT_SIM_LISTENER,
        Exten="s",
        Priority="1",
        # Both halves read SIM_HOLD: the listener hangs up after it, ending the call.
        Variable=["SIM_PROMPT=hello-world", "SIM_DIGITS=12#", "SIM_HOLD=4"],
    )
    # Reason 4: answered. The ;1 half carries the ChannelId we chose, so it is the Linkedid.
    assert outcome.event == "OriginateResponse" and outcome.get("Reason") == "4", outcome
    await log.wait_for(user_event("SimListener", "answered", call_id))
    await log.wait_for(user_event("SimPatient", "answered", call_id))
    await log.wait_for(user_event("SimPatient", "played", call_id))
    await log.wait_for(user_event("SimPatient", "keys-sent", call_id))
    await log.wait_for(lambda e: e.event == "Hangup" and e.get("Uniqueid") == call_id)


@pytest.mark.parametrize(
    ("outcome", "reason"), [("busy", "5"), ("congestion", "8"), ("noanswer", "3")]
)
async def test_simulated_callee_outcomes(
    ami: tuple[Manager, EventLog], outcome: str, reason: str
) -> None:
    manager, _log = ami
    call_id = f"sandbox-test-{uuid.uuid4().hex[:12]}"
    response = await originate(
        manager,
        f"Local/{outcome}@{const.CONTEXT_SIM_CALLEE}",
        call_id,
        Context=const.CONTEXT_SIM_LISTENER,
        Exten="s",
        Priority="1",
        Timeout="2000",
    )
    assert response.get("Response") == "Failure"
    assert response.get("Reason") == reason, response


def _queue_event(name: str, linkedid: str, event: Message) -> bool:
    return bool(event.event == name and event.get("Linkedid") == linkedid)


async def test_queue_call_reaches_simulated_agent_and_is_recorded(
    ami: tuple[Manager, EventLog], asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    manager, log = ami
    queue = const.QUEUES[0].name
    member = f"Local/1001@{const.CONTEXT_SIM_AGENTS}"
    added = await single_reply(
        manager,
        {"Action": "QueueAdd", "Queue": queue, "Interface": member, "MemberName": "Agent 1001"},
    )
    assert added.response == "Success", added
    try:
        call_id = f"sandbox-test-{uuid.uuid4().hex[:12]}"
        await originate(
            manager,
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            call_id,
            Context=const.CONTEXT_QUEUES,
            Exten=queue,
            Priority="1",
            # "__" makes the variable follow the call to the agent's channel.
            Variable=["SIM_HOLD=30", "__SIM_AGENT_TALK=2", "CALLCENTER_RECORD=always"],
        )
        recording = await log.wait_for(
            lambda e: e.get("UserEvent") == "CallcenterRecording" and e.get("Linkedid") == call_id,
            call=call_id,
        )
        for name in ("AgentCalled", "AgentConnect", "AgentComplete"):
            await log.wait_for(
                partial(_queue_event, name, call_id),
                call=call_id,
                # Once seen in CI: no AgentComplete 20 s after AgentConnect, as if the agent
                # talked the dialplan's default 20 s instead of the inherited 2 s.
                within=2 * WAIT + 5 if name == "AgentComplete" else WAIT,
            )
    finally:
        await single_reply(manager, {"Action": "QueueRemove", "Queue": queue, "Interface": member})
    file_name = recording.get("File")
    assert file_name.startswith(call_id) and file_name.endswith(".wav")
    wav = Path(asterisk_sandbox.sandbox.recordings_dir) / file_name
    assert await asyncio.to_thread(wait_for_file, wav), f"no recording at {wav}"
    assert wav.read_bytes()[:4] == b"RIFF"


def wait_for_file(path: Path, timeout: float = WAIT) -> bool:
    """Poll (in a thread) until MixMonitor has written more than the WAV header."""
    # MixMonitor closes its file on its own thread just after the hangup: no event marks it.
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size <= 44:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def test_kill9_then_start_recovers(asterisk_sandbox: AsteriskSandboxHandle) -> None:
    before = asterisk_sandbox.sandbox.pid()
    await asyncio.to_thread(asterisk_sandbox.kill9)
    assert asterisk_sandbox.sandbox.pid() is None
    status = await asyncio.to_thread(asterisk_sandbox.start)
    assert status.running and status.pid != before
    box = asterisk_sandbox
    reply = await raw_login(box.ami_host, box.ami_port, box.ami_username, box.ami_secret)
    assert reply["Response"] == "Success"
