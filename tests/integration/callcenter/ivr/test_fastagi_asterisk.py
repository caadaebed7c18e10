"""The FastAGI server against the real Asterisk: keys pressed by a simulated patient arrive,
hang-ups are detected, and odd caller ID is carried safely.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.errors import CallerHungUp
from callcenter.agi.server import FastAgiServer
from callcenter.asterisk import const
from callcenter.ivr.flows.echo import echo_digits
from tests.support.asterisk_sandbox import AsteriskSandboxHandle

pytestmark = pytest.mark.asterisk
WAIT = 20.0


async def _serve(asterisk_sandbox: AsteriskSandboxHandle, flow) -> FastAgiServer:
    server = FastAgiServer(asterisk_sandbox.settings.agi, {const.AGI_ROUTE_ECHO_DIGITS: flow})
    await server.start()
    return server


async def test_keys_pressed_by_the_patient_are_read_and_said_back(asterisk_sandbox, ami):
    results: asyncio.Queue[tuple[str, str | None, str]] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        digits = await echo_digits(agi)
        await results.put((agi.linkedid, digits, await agi.get_variable("ECHO_DIGITS") or ""))

    server = await _serve(asterisk_sandbox, flow)
    try:
        await ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_AGI_TEST,
            exten="s",
            variables={"SIM_DIGITS": "4721", "SIM_DELAY": "1", "SIM_HOLD": "15"},
        )
        linkedid, digits, stored = await asyncio.wait_for(results.get(), WAIT)
    finally:
        await server.stop()
    assert digits == "4721"
    assert stored == "4721"
    assert linkedid and "." in linkedid  # Asterisk's Linkedid, not the AGI channel's own id


async def test_hangup_while_waiting_for_keys_is_detected(asterisk_sandbox, ami):
    outcome: asyncio.Queue[str] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        await agi.answer()
        try:
            while True:  # keep asking: the patient hangs up after a second
                await agi.get_data("beep", timeout_ms=3000, max_digits=4)
        except CallerHungUp:
            await outcome.put("hung-up")
            raise

    server = await _serve(asterisk_sandbox, flow)
    try:
        await ami.originate(
            f"Local/hangup@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_AGI_TEST,
            exten="s",
            variables={"SIM_DELAY": "1"},
        )
        assert await asyncio.wait_for(outcome.get(), WAIT) == "hung-up"
    finally:
        await server.stop()


def _pwned(box: AsteriskSandboxHandle) -> bool:
    """Did a ${SHELL(...)} in caller ID run? It would have touched /tmp/pwned in the chroot."""
    return (box.sandbox.root / "tmp" / "pwned").exists() or Path("/tmp/pwned").exists()


ODD_CALLER_IDS = [
    ('Evil "Quote"', "2125550142"),
    ("${SHELL(id)}", "${SHELL(touch /tmp/pwned)}"),
    ("../../etc/passwd", "../../x"),
    ("王秀英", "+8613812345678"),
    ("A" * 300, "9" * 80),
]


@pytest.mark.parametrize(("name", "number"), ODD_CALLER_IDS)
async def test_odd_caller_id_is_carried_as_data(asterisk_sandbox, ami, name, number):
    seen: asyncio.Queue[tuple[str, str, str | None]] = asyncio.Queue()

    async def flow(agi: AgiChannel) -> None:
        # Round-trip the caller's name through a channel variable: quoted, never expanded.
        await agi.set_variable("CC_CALLER_NAME", agi.env.caller_id_name)
        await seen.put(
            (agi.env.caller_id_name, agi.env.caller_id, await agi.get_variable("CC_CALLER_NAME"))
        )

    server = await _serve(asterisk_sandbox, flow)
    try:
        await ami.originate(
            f"Local/s@{const.CONTEXT_SIM_LISTENER}",
            context=const.CONTEXT_AGI_TEST,
            exten="s",
            caller_id=f'"{name}" <{number}>',
            variables={"SIM_HOLD": "2"},
        )
        got_name, got_number, round_trip = await asyncio.wait_for(seen.get(), WAIT)
    finally:
        await server.stop()
    assert round_trip == got_name
    assert "SHELL" not in got_name or got_name == name  # never expanded by Asterisk
    assert not _pwned(asterisk_sandbox)
    # Asterisk tidies numbers its own way (drops spaces, parentheses, over-long ones); what
    # matters is that nothing was evaluated and nothing can break a command line.
    for value in (got_name, got_number):
        assert "uid=" not in value and "\n" not in value and "\r" not in value
