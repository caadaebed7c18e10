"""Transfers across two real server processes: started through one, ended through the other.

Both agents' browsers are on process B, every desk request that starts a transfer goes to A
(a load balancer may send each request anywhere). Alice, on a queue call, consults bob
through A and cancels through B (the consultation is over on both processes), consults him
again through A and completes through B: bob's desk on B pops the call. Bob then
blind-transfers the caller back to alice through A: her desk on B rings and answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callcenter.ami.errors import AmiError
from callcenter.asterisk import const
from hcrm_core.db import Database
from hcrm_core.models import Role
from hcrm_core.services.users import create_user
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.cluster import Browser, browser, start_node, wait_ready
from tests.support.rig import agent_extension

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
PASSWORD = "correct-horse-battery"
DESK = "/api/v1/desk"
# The queue rings alice's phone 1 s; a transfer's or consultation's dial rings 1 s too.
CALL_WAIT = 20.0
# A change made on one process, seen on the other: milliseconds through the relay; the
# machine is loaded by other tests.
RELAY_WAIT = 10.0
# The queue rings a free member at once: a call not ringing our agent by then went elsewhere.
TAKEN_WAIT = 5.0

Matcher = Callable[[dict[str, Any]], bool]


def _pop(linkedid: str, phase: str) -> Matcher:
    return lambda m: (
        m["type"] == "pop" and m["pop"]["linkedid"] == linkedid and (m["pop"]["phase"] == phase)
    )


def _consult(linkedid: str, state: str | None) -> Matcher:
    return lambda m: (
        m["type"] == "pop"
        and m["pop"]["linkedid"] == linkedid
        and (m["pop"]["consult"] or {}).get("state") == state
    )


def _agent(state: str, linkedid: str | None = None) -> Matcher:
    return lambda m: (
        m["type"] == "agent"
        and m["agent"]["state"] == state
        and (linkedid is None or m["agent"]["linkedid"] == linkedid)
    )


def _device_free(m: dict[str, Any]) -> bool:
    return m["type"] == "agent" and m["agent"]["device"] == "not_inuse"


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


async def _sign_in(desk: Browser, on_a: Browser, extension: str) -> None:
    status, answer = await on_a.post(f"{DESK}/sign-in", {"extension": extension})
    assert status == 200, answer
    await desk.wait_for(_agent("ready"), "the sign-in on A, on B's websocket", RELAY_WAIT)


async def _desk_on(on: Browser, matches: Matcher, what: str) -> None:
    """Until the desk API of ``on``'s process (A) ``matches``: what B did reaches it through
    the relay."""
    last: Any = None
    try:
        async with asyncio.timeout(RELAY_WAIT):
            while True:
                async with on.client.get(f"{on.base}{DESK}") as answer:
                    last = await answer.json()
                if matches(last):
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what} on A: not within {RELAY_WAIT} s: {last}") from None


async def _quietest_queue(phone: PatientsPhone) -> str:
    """The queue with the fewest members not paused (the sandbox is shared: other tests'
    agents answer by themselves too)."""
    counts = {q.name: 0 for q in const.QUEUES}
    for row in await phone.ami.queue_status():
        if row.name == "QueueMember" and row.queue in counts and row.get("Paused") == "0":
            counts[row.queue] += 1
    return min(counts, key=lambda name: counts[name])


async def _call_answered_by(phone: PatientsPhone, desk: Browser) -> str:
    """A queue call answered by the agent of ``desk``; its Linkedid. Another test's agent
    free in the same queue may take it: then another call (three at most)."""
    for _ in range(3):
        linkedid = f"cc-{uuid.uuid4().hex[:16]}"
        await phone.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_QUEUES,
            exten=await _quietest_queue(phone),
            caller_id='"Caller" <+12125550178>',
            channel_id=linkedid,
            variables={"SIM_HOLD": "60", "__SIM_AGENT_RING": "1", "__SIM_AGENT_TALK": "60"},
        )
        with contextlib.suppress(AssertionError):
            await desk.wait_for(_pop(linkedid, "ringing"), "the call ringing", TAKEN_WAIT)
            await desk.wait_for(_agent("on_call", linkedid), "on the call", CALL_WAIT)
            return linkedid
        # Not ours: set the other test's agent free again.
        for row in await phone.ami.core_show_channels():
            if row.get("Linkedid") == linkedid:
                with contextlib.suppress(AmiError):
                    await phone.ami.send_action({"Action": "Hangup", "Channel": row.channel})
    raise AssertionError("three calls in a row answered by other tests' agents")


async def test_transfers_started_through_one_process_are_followed_and_ended_through_another(
    asterisk_sandbox: AsteriskSandboxHandle,
    patients_phone: PatientsPhone,
    database: Database,
    tmp_path: Path,
) -> None:
    extensions = {"alice": agent_extension(1), "bob": agent_extension(1)}
    async with database.transaction() as session:
        for name, extension in extensions.items():
            await create_user(
                session, username=name, password=PASSWORD, role=Role.AGENT, extension=extension
            )
    a = start_node("a", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    b = start_node("b", asterisk_sandbox, tmp_path, database.url, dict(os.environ))
    try:
        await asyncio.gather(wait_ready(a), wait_ready(b))
        async with (
            browser(b.base, "alice", PASSWORD) as alice,
            browser(b.base, "bob", PASSWORD) as bob,
        ):
            # Their requests sent to A by the load balancer, their websockets on B.
            alice_a = Browser(alice.client, a.base, alice.csrf)
            bob_a = Browser(bob.client, a.base, bob.csrf)
            await _sign_in(bob, bob_a, extensions["bob"])
            status, answer = await bob_a.post(f"{DESK}/pause", {"reason": "break"})
            assert status == 200, answer
            await _sign_in(alice, alice_a, extensions["alice"])

            # A queue call answered by alice (bob is paused).
            linkedid = await _call_answered_by(patients_phone, alice)
            mark = len(bob.messages)
            status, answer = await bob_a.post(f"{DESK}/resume", {})
            assert status == 200, answer
            await _after(bob, mark, _agent("ready"), "bob ready again, on B", RELAY_WAIT)

            # Alice consults bob through A; her desk on B follows; she cancels through B.
            status, answer = await alice_a.post(
                f"{DESK}/call/consult", {"kind": "agent", "target": "bob"}
            )
            assert status == 202, answer
            await alice.wait_for(_consult(linkedid, "talking"), "the consultation", CALL_WAIT)
            mark = len(bob.messages)
            status, answer = await alice.post(f"{DESK}/call/consult/cancel", {})
            assert status == 200, answer
            await alice.wait_for(_consult(linkedid, None), "the consultation over", RELAY_WAIT)
            await _desk_on(
                alice_a,
                lambda d: [p["consult"] for p in d["pops"] if p["linkedid"] == linkedid] == [None],
                "the consultation over",
            )
            await _after(bob, mark, _device_free, "bob's phone free again", CALL_WAIT)

            # Consult again through A, complete through B: the call pops on bob's desk on B.
            mark = len(alice.messages)
            status, answer = await alice_a.post(
                f"{DESK}/call/consult", {"kind": "agent", "target": "bob"}
            )
            assert status == 202, answer
            await _after(alice, mark, _consult(linkedid, "talking"), "consulting again", CALL_WAIT)
            mark, alice_mark = len(bob.messages), len(alice.messages)
            status, answer = await alice.post(f"{DESK}/call/consult/complete", {})
            assert status == 202, answer
            await _after(bob, mark, _pop(linkedid, "answered"), "bob's pop", CALL_WAIT)
            await _after(bob, mark, _agent("on_call", linkedid), "bob on the call", CALL_WAIT)
            await alice.wait_for(_pop(linkedid, "transferred"), "alice's pop moved", CALL_WAIT)
            await _after(alice, alice_mark, _device_free, "alice's phone free", CALL_WAIT)
            status, answer = await alice.post(
                f"{DESK}/pops/{linkedid}/disposition", {"disposition": "information"}
            )
            assert status == 200, answer
            await _desk_on(alice_a, lambda d: (d["agent"] or {}).get("state") == "ready", "ready")

            # Bob sends the caller back to alice, a blind transfer through A: her desk on B
            # rings, then she talks to the caller.
            mark = len(alice.messages)
            status, answer = await bob_a.post(
                f"{DESK}/call/transfer", {"kind": "agent", "target": "alice"}
            )
            assert status == 202, answer
            await _after(alice, mark, _pop(linkedid, "ringing"), "alice's pop", CALL_WAIT)
            await _after(alice, mark, _pop(linkedid, "answered"), "alice answering", CALL_WAIT)
            await _after(alice, mark, _agent("on_call", linkedid), "alice on it", CALL_WAIT)
            await bob.wait_for(_pop(linkedid, "transferred"), "bob's pop moved", RELAY_WAIT)
            status, answer = await alice.post(f"{DESK}/call/hangup", {})
            assert status == 200, answer
            await _after(alice, mark, _pop(linkedid, "ended"), "the call's end", CALL_WAIT)
    finally:
        a.process.terminate()
        b.process.terminate()
