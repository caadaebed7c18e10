"""Several FastAGI addresses (``agi.asterisk_urls``, docs/scale.md) on the real Asterisk.

The dialplan rendered with two addresses is installed beside the shared sandbox dialplan: its
inbound context under a name of its own, and its fall-back context (absent from the shared
one-address dialplan). The rendered addresses are the ``[globals]`` the other tests share, so
each call sets them as channel variables of the same names (which Asterisk reads first).

- the first address refuses connections (a server process that is gone): the caller is served
  by our FastAGI server at the second, from the fall-back context, and the IVR's steps arrive;
- every address refuses: the caller goes to the fallback queue and reaches an agent.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.asterisk.render import render_config
from callcenter.calls.state import IvrProgress
from callcenter.ivr import prompts
from callcenter.ivr.flows.main_menu import AGENT_QUEUE
from callcenter.settings import AgiSettings
from hcrm_core.db import Database
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.ivr_rig import DOB_KEYS, PHONE, WAIT, LanguageRig, open_language_rig
from tests.support.rig import agent_extension

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]
INBOUND = "test-agi-fallback-inbound"
# Sandbox-only: the shared extensions.conf includes extensions_test_*.conf.
CONF_NAME = "extensions_test_agi_fallback.conf"
# Placeholders in the rendered [globals], which are not installed; each call sets the real ones.
RENDERED_URLS = ["agi://127.0.0.1:1", "agi://127.0.0.1:2"]


def _section(text: str, name: str) -> str:
    """One ``[name]`` context of a rendered dialplan, up to the next context."""
    match = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[)", text, re.MULTILINE | re.DOTALL)
    assert match is not None, f"[{name}] not rendered"
    return match.group(1)


def _rendered_dialplan(box: AsteriskSandboxHandle, out_dir: Path) -> tuple[str, str]:
    """The inbound context (renamed) and the fall-back context rendered with two addresses."""
    settings = box.settings.model_copy(update={"agi": AgiSettings(asterisk_urls=RENDERED_URLS)})
    render_config(settings, out_dir, sandbox=False)
    text = (out_dir / "extensions.conf").read_text()
    return _section(text, const.CONTEXT_INBOUND), _section(text, const.CONTEXT_AGI_FALLBACK)


def _priority_of(section: str, needle: str) -> int:
    """The priority of the dialplan line containing ``needle`` (one per extension line)."""
    lines = [line for line in section.splitlines() if re.match(r"^\s*(exten|same) =>", line)]
    (index,) = [i for i, line in enumerate(lines) if needle in line]
    return index + 1


@pytest.fixture(scope="module")
def fallback_priority(
    asterisk_sandbox: AsteriskSandboxHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """Install the two-address dialplan in the sandbox; the priority of the second address's
    AGI() in the fall-back context."""
    inbound, fallback = _rendered_dialplan(asterisk_sandbox, tmp_path_factory.mktemp("render"))
    assert f"Gosub({const.CONTEXT_AGI_FALLBACK},s,1({const.AGI_ROUTE_IVR}))" in inbound
    conf = asterisk_sandbox.sandbox.root / "etc/asterisk" / CONF_NAME
    conf.write_text(f"[{INBOUND}]\n{inbound}\n[{const.CONTEXT_AGI_FALLBACK}]\n{fallback}")
    try:
        asterisk_sandbox.cli("dialplan reload")
        shown = asterisk_sandbox.cli(f"dialplan show {const.CONTEXT_AGI_FALLBACK}")
        assert "AGI(${CALLCENTER_AGI_2}" in shown, f"the fall-back context is not loaded: {shown}"
        assert INBOUND in asterisk_sandbox.cli(f"dialplan show {INBOUND}")
        yield _priority_of(fallback, "AGI(${CALLCENTER_AGI_2}")
    finally:
        # The contexts stay loaded until the next reload; nobody else calls into them.
        conf.unlink(missing_ok=True)


@pytest.fixture
def dead_url() -> Iterator[str]:
    """An address where nothing listens (a process that is gone): bound, never listening, so
    a connection is refused and no other test can take the port meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"agi://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def ivr(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[LanguageRig]:
    async with open_language_rig(database, asterisk_sandbox, patients_phone) as rig:
        yield rig


@contextlib.asynccontextmanager
async def _member(bridge: AmiBridge, queue: str, extension: str) -> AsyncIterator[None]:
    """A simulated agent phone in ``queue`` (1XXX answers after a second, 2XXX rings)."""
    interface = f"Local/{extension}@{const.CONTEXT_SIM_AGENTS}"
    await bridge.send_action({"Action": "QueueAdd", "Queue": queue, "Interface": interface})
    try:
        yield
    finally:
        await bridge.send_action({"Action": "QueueRemove", "Queue": queue, "Interface": interface})


async def _joined(phone: PatientsPhone, linkedid: str) -> AmiEvent:
    (joined,) = await phone.recorder.wait_for(
        AmiEvent, lambda e: e.name == "QueueCallerJoin" and e.linkedid == linkedid, timeout=WAIT
    )
    return joined


def _addresses(first: str, second: str) -> dict[str, str]:
    # What the rendered [globals] hold with agi.asterisk_urls = [first, second].
    return {"CALLCENTER_AGI": first, "CALLCENTER_AGI_1": first, "CALLCENTER_AGI_2": second}


async def test_a_gone_first_address_falls_back_to_the_second(
    ivr: LanguageRig, patients_phone: PatientsPhone, fallback_priority: int, dead_url: str
) -> None:
    live_url = f"agi://127.0.0.1:{ivr.server.port}"
    async with _member(ivr.rig.bridge, AGENT_QUEUE, agent_extension(2)):
        # Identified by caller ID and date of birth, the caller asks for an agent (0).
        caller = patients_phone.caller([DOB_KEYS, "0"])
        caller.linkedid = await ivr.rig.originate_caller(
            "s",
            context=INBOUND,
            exten="s",
            caller_id=f'"Caller" <{PHONE}>',
            variables={"SIM_HOLD": "60", **_addresses(dead_url, live_url)},
        )
        left = await ivr.left(caller.linkedid)
        # The queue the server named in the dialog outlives the Gosub: the caller waits there.
        joined = await _joined(patients_phone, caller.linkedid)
        await ivr.rig.bridge.send_action({"Action": "Hangup", "Channel": joined.channel})
    assert caller.asked == [prompts.ASK_DOB, prompts.MAIN_MENU], caller.commands
    assert left.step == "to-agent" and left.patient_id == ivr.patient.id
    assert joined.get("Queue") == AGENT_QUEUE
    # The dialog ran from the fall-back context's AGI() of the second address, after the
    # first address's AGI() (priority 1) could not connect; our server had that one session.
    ran = patients_phone.recorder.of(
        AmiEvent, lambda e: e.name == "AGIExecStart" and e.linkedid == caller.linkedid
    )
    assert ran and {(e.get("Context"), e.get("Priority")) for e in ran} == {
        (const.CONTEXT_AGI_FALLBACK, str(fallback_priority))
    }
    assert ivr.server.health()["sessions_started"] == 1


async def test_every_address_gone_sends_the_caller_to_the_fallback_queue(
    ivr: LanguageRig, patients_phone: PatientsPhone, fallback_priority: int, dead_url: str
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        second_dead = f"agi://127.0.0.1:{other.getsockname()[1]}"
        async with _member(ivr.rig.bridge, const.FALLBACK_QUEUE, agent_extension(1)):
            linkedid = await ivr.rig.originate_caller(
                "s",
                context=INBOUND,
                exten="s",
                caller_id=f'"Caller" <{PHONE}>',
                variables={"SIM_HOLD": "60", **_addresses(dead_url, second_dead)},
            )
            joined = await _joined(patients_phone, linkedid)
            assert joined.get("Queue") == const.FALLBACK_QUEUE
            # A person answers: the patient is not hung up on.
            await patients_phone.recorder.wait_for(
                AmiEvent,
                lambda e: e.name == "AgentConnect" and e.linkedid == linkedid,
                timeout=WAIT,
            )
            await ivr.rig.bridge.send_action({"Action": "Hangup", "Channel": joined.channel})
    assert ivr.server.health()["sessions_started"] == 0
    assert not ivr.rig.recorder.of(IvrProgress, lambda p: p.linkedid == linkedid)
