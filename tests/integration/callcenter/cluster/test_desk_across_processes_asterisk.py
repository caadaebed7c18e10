"""The agent desk shared by two real server processes: no sticky sessions.

The agent signs in at the desk through process A while their browser's websocket is on B (a
load balancer may send each request anywhere). B learns the sign-in from the event relay and
follows the agent from its own AMI session: the queue call's pop and the agent's states reach
the websocket on B. Desk actions go to either process (pause on B shows on A; a disposition
saved on B ends the wrap-up on both, and the leader gives the phone back to the queues, so a
second call rings it); a sign-out on A shows on B. Then A, where the agent signed in, is
killed: B goes on serving the agent's desk without a new sign-in, and a call still pops.
Each change of the agent's state is stored once (the leader writes the history), and each
card the pops showed is audited once.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.asterisk import const
from hcrm_core.db import Database
from hcrm_core.models import AgentStateChange, AuditEvent, Role
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.users import create_user
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.cluster import Browser, Node, browser, start_node, wait_ready
from tests.support.factories import make_patient
from tests.support.rig import agent_extension

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
PASSWORD = "correct-horse-battery"
DESK = "/api/v1/desk"
# A queue call: the phone rings 1 s, the agent talks 2 s (the sandbox's 1XXX phones).
CALL_WAIT = 20.0
# A change made on one process, seen on the other: the relay takes milliseconds; the
# machine is loaded by other tests.
RELAY_WAIT = 10.0
# The survivor of a kill -9 leads within about 1 s (the PostgreSQL session ends at once).
TAKEOVER_WAIT = 10.0


Matcher = Callable[[dict[str, Any]], bool]


def _agent(state: str) -> Matcher:
    return lambda m: m["type"] == "agent" and m["agent"]["state"] == state


def _pop(linkedid: str, phase: str) -> Matcher:
    return lambda m: (
        m["type"] == "pop" and m["pop"]["linkedid"] == linkedid and (m["pop"]["phase"] == phase)
    )


async def _after(
    desk: Browser,
    mark: int,
    matches: Matcher,
    what: str,
    timeout: float,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The first message from the ``mark``-th on (taken before the action) that ``matches``."""
    earlier = {id(m) for m in desk.messages[:mark]}
    return await desk.wait_for(lambda m: id(m) not in earlier and matches(m), what, timeout)


async def _desk_state(on: Browser, state: str, what: str) -> dict[str, Any]:
    """Until the desk API of ``on``'s process shows the agent in ``state``."""
    last: Any = None
    try:
        async with asyncio.timeout(RELAY_WAIT):
            while True:
                async with on.client.get(f"{on.base}{DESK}") as answer:
                    last = await answer.json()
                agent = last.get("agent")
                if agent is not None and agent["state"] == state:
                    return dict(agent)
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what}: not {state} within {RELAY_WAIT} s: {last}") from None


async def _quietest_queue(phone: PatientsPhone) -> str:
    """The queue with the fewest members of other tests (the sandbox is shared)."""
    counts = {q.name: 0 for q in const.QUEUES}
    for row in await phone.ami.queue_status():
        if row.name == "QueueMember" and row.queue in counts:
            counts[row.queue] += 1
    return min(counts, key=lambda name: counts[name])


async def _offered_calls(phone: PatientsPhone, interface: str) -> None:
    """Until Asterisk has the phone in every queue, not paused (the wrap-up hold released)."""
    rows: list[tuple[str, str]] = []
    try:
        async with asyncio.timeout(RELAY_WAIT):
            while True:
                rows = [
                    (row.queue, row.get("Paused"))
                    for row in await phone.ami.queue_status()
                    if row.name == "QueueMember" and row.get("Location") == interface
                ]
                if len(rows) == len(const.QUEUES) and all(p == "0" for _, p in rows):
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{interface} still held after {RELAY_WAIT} s: {rows}") from None


async def _call(phone: PatientsPhone, number: str, *, talk: int = 2) -> str:
    # Chosen at each call: other test sessions' agents come and go in the shared sandbox.
    queue = await _quietest_queue(phone)
    linkedid = f"cc-{uuid.uuid4().hex[:16]}"
    await phone.ami.originate(
        f"Local/s@{const.CONTEXT_SIM_PATIENT}",
        context=const.CONTEXT_QUEUES,
        exten=queue,
        caller_id=f'"Caller" <{number}>',
        channel_id=linkedid,
        variables={"SIM_HOLD": "20", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": str(talk)},
    )
    return linkedid


async def _whole_call(desk: Browser, linkedid: str) -> dict[str, Any]:
    """Ringing, talking and ended, on the agent's websocket; the pop with the card."""
    pop = await _answered(desk, linkedid)
    await _ended(desk, linkedid)
    return pop


async def _answered(desk: Browser, linkedid: str) -> dict[str, Any]:
    """Ringing and talking, on the agent's websocket; the pop with the card."""
    await desk.wait_for(_pop(linkedid, "ringing"), f"pop of {linkedid}", CALL_WAIT)
    carded = await desk.wait_for(
        lambda m: (
            m["type"] == "pop"
            and m["pop"]["linkedid"] == linkedid
            and m["pop"]["patient"] is not None
        ),
        f"card of {linkedid}",
        CALL_WAIT,
    )
    await desk.wait_for(
        lambda m: _agent("on_call")(m) and m["agent"]["linkedid"] == linkedid,
        f"on the call {linkedid}",
        CALL_WAIT,
    )
    return dict(carded["pop"])


async def _ended(desk: Browser, linkedid: str) -> None:
    await desk.wait_for(_pop(linkedid, "ended"), f"end of {linkedid}", CALL_WAIT)
    await desk.wait_for(
        lambda m: _agent("wrap_up")(m) and m["agent"]["linkedid"] == linkedid,
        f"wrap-up of {linkedid}",
        CALL_WAIT,
    )


async def test_any_process_serves_the_desk_of_an_agent_signed_in_on_another(
    asterisk_sandbox: AsteriskSandboxHandle,
    patients_phone: PatientsPhone,
    database: Database,
    policy: BookingPolicy,
    tmp_path: Path,
) -> None:
    number = f"+1212557{random.randint(2000, 9999)}"
    patient = await make_patient(database, policy, given_name="Desk", phones=(number,))
    extension = agent_extension(1)
    interface = f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"
    async with database.transaction() as session:
        user = await create_user(
            session, username="alice", password=PASSWORD, role=Role.AGENT, extension=extension
        )
    a = start_node("a", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    b = start_node("b", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    calls: list[str] = []
    try:
        await asyncio.gather(wait_ready(a), wait_ready(b))
        async with browser(b.base, "alice", PASSWORD) as desk:
            # The same browser session, its request sent to A by the load balancer.
            on_a = Browser(desk.client, a.base, desk.csrf)
            status, answer = await on_a.post(f"{DESK}/sign-in", {"extension": extension})
            assert status == 200, answer
            await desk.wait_for(_agent("ready"), "the sign-in on A, on B's websocket", RELAY_WAIT)

            # Pause through B: A's desk shows it; resume through A: B's websocket shows it.
            reason = answer["pause_reasons"][0]
            status, answer = await desk.post(f"{DESK}/pause", {"reason": reason})
            assert (status, answer["agent"]["state"]) == (200, "paused"), answer
            paused = await _desk_state(on_a, "paused", "A after a pause on B")
            assert paused["pause_reason"] == reason
            mark = len(desk.messages)
            status, answer = await on_a.post(f"{DESK}/resume", {})
            assert status == 200, answer
            await _after(desk, mark, _agent("ready"), "the resume on A, on B", RELAY_WAIT)

            # A queue call: the pop and the agent's states reach B, where the browser is. Call
            # control too: held through A, taken back through B, hung up through A.
            calls.append(await _call(patients_phone, number, talk=60))
            pop = await _answered(desk, calls[0])
            assert pop["patient"]["id"] == patient.id
            status, answer = await on_a.post("/api/v1/desk/call/hold", {})
            assert status == 200, answer
            await desk.wait_for(
                lambda m: _pop(calls[0], "answered")(m) and m["pop"]["held_at"] is not None,
                "the hold on A, on B's pop",
                RELAY_WAIT,
            )
            status, answer = await desk.post("/api/v1/desk/call/resume", {})
            assert status == 200, answer
            mark = len(desk.messages)
            status, answer = await on_a.post("/api/v1/desk/call/hangup", {})
            assert status == 200, answer
            await _ended(desk, calls[0])
            taken_back = await _after(desk, mark, _pop(calls[0], "ended"), "the end", RELAY_WAIT)
            assert taken_back["pop"]["held_at"] is None
            await _desk_state(on_a, "wrap_up", "A after the call")

            # The disposition saved on B ends wrap-up on both; the leader releases the phone.
            status, answer = await desk.post(
                f"{DESK}/pops/{calls[0]}/disposition", {"disposition": "information"}
            )
            assert status == 200, answer
            await _desk_state(on_a, "ready", "A after the disposition saved on B")
            await _offered_calls(patients_phone, interface)  # by the leader, A or B
            calls.append(await _call(patients_phone, number))
            await _whole_call(desk, calls[1])

            # Saved on A this time: the pop on B's websocket closes.
            mark = len(desk.messages)
            status, answer = await on_a.post(
                f"{DESK}/pops/{calls[1]}/disposition", {"disposition": "information"}
            )
            assert status == 200, answer
            await desk.wait_for(_pop(calls[1], "closed"), "the pop closed on B", RELAY_WAIT)
            await _after(desk, mark, _agent("ready"), "ready on B after the save on A", RELAY_WAIT)

            # A sign-out on A shows on B's websocket.
            status, answer = await on_a.post(f"{DESK}/sign-out", {})
            assert status == 200, answer
            await desk.wait_for(_agent("signed_out"), "the sign-out on A, on B", RELAY_WAIT)

            # Signed in through A again, then A dies: B serves the desk without a new sign-in.
            mark = len(desk.messages)
            status, answer = await on_a.post(f"{DESK}/sign-in", {"extension": extension})
            assert status == 200, answer
            await _after(desk, mark, _agent("ready"), "the second sign-in on A, on B", RELAY_WAIT)
            a.process.kill()
            await _leads(b)
            calls.append(await _call(patients_phone, number))
            await _whole_call(desk, calls[2])
            mark = len(desk.messages)
            status, answer = await desk.post(
                f"{DESK}/pops/{calls[2]}/disposition", {"disposition": "information"}
            )
            assert status == 200, answer
            await _after(desk, mark, _agent("ready"), "ready on B after the failover", RELAY_WAIT)
            status, answer = await desk.post(f"{DESK}/sign-out", {})
            assert (status, answer["agent"]) == (200, None), answer
        b_log = b.process.log()
    finally:
        a.process.terminate()
        b.process.terminate()

    # B learnt both sign-ins from A, and built the pops itself.
    assert b_log.count("agent alice signed in on") == 2, b_log[-3000:]
    async with database.session() as session:
        states = (
            await session.execute(
                select(AgentStateChange.state, AgentStateChange.pause_reason)
                .where(AgentStateChange.user_id == user.id)
                .order_by(AgentStateChange.at, AgentStateChange.id)
            )
        ).all()
        audits = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity == "patient", AuditEvent.patient_id == patient.id
                )
            )
        ).all()
    # Stored once each: a change written by both processes would repeat its state.
    repeats = [i for i in range(1, len(states)) if states[i] == states[i - 1]]
    assert repeats == [], states
    shown = [s for s, _ in states]
    assert shown.count("ringing") == 3 and shown.count("on_call") == 3, shown
    assert ("paused", reason) in states
    # One audited view per card, not one per process.
    by_call: dict[str, int] = {}
    for row in audits:
        linkedid = (row.detail or {}).get("linkedid")
        if linkedid in calls:
            by_call[linkedid] = by_call.get(linkedid, 0) + 1
    assert by_call == dict.fromkeys(calls, 1), by_call


async def _leads(node: Node) -> None:
    """Until ``node``'s /healthz says it leads (the dead one's lock is freed)."""
    last: Any = None
    try:
        async with asyncio.timeout(TAKEOVER_WAIT), aiohttp.ClientSession() as client:
            while True:
                async with client.get(f"{node.base}/healthz") as answer:
                    last = await answer.json()
                if (last.get("cluster") or {}).get("leader"):
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{node.name} not leading in {TAKEOVER_WAIT} s: {last}") from None
