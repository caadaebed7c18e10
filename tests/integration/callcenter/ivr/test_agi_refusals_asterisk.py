"""FastAGI refusals against the real Asterisk: a connection from outside ``agi.allowed_peers``
(simulated with an allow-list that leaves out loopback) is closed before any dialog runs, and
Asterisk's ``AGI()`` returns: the call goes on in the dialplan, no AGI command was answered.
"""

from __future__ import annotations

import uuid

import pytest

from callcenter.agi.channel import AgiChannel
from callcenter.agi.server import FastAgiServer
from callcenter.ami.bridge import AmiResynced
from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from callcenter.settings import AgiSettings
from tests.support.caller import PatientsPhone

pytestmark = pytest.mark.asterisk


async def test_a_foreign_peer_gets_no_dialog_and_the_call_leaves_the_agi(
    patients_phone: PatientsPhone,
) -> None:
    await patients_phone.recorder.wait_for(AmiResynced)
    served: list[str] = []

    async def flow(agi: AgiChannel) -> None:
        served.append(agi.linkedid)

    server = FastAgiServer(
        AgiSettings(port=0, allowed_peers=["192.0.2.0/24"]), {const.AGI_ROUTE_IVR: flow}
    )
    await server.start()
    try:
        linkedid = f"refused-{uuid.uuid4().hex[:12]}"
        await patients_phone.ami.originate(
            f"Local/s@{const.CONTEXT_SIM_PATIENT}",
            context=const.CONTEXT_INBOUND,
            exten="s",
            channel_id=linkedid,
            variables={"SIM_HOLD": "5", "CALLCENTER_AGI": f"agi://127.0.0.1:{server.port}"},
        )
        (hangup,) = await patients_phone.recorder.wait_for(
            AmiEvent, lambda e: e.name == "Hangup" and e.uniqueid == linkedid
        )
    finally:
        await server.stop()
    assert served == []
    assert server.health()["refused_peer"] >= 1
    # The closed socket is a normal end of AGI() for Asterisk 22 (not AGISTATUS=FAILURE): with
    # no CALLCENTER_QUEUE set the inbound dialplan hangs up, as docs/asterisk.md says.
    assert (hangup.get("Context"), hangup.get("Exten")) == (const.CONTEXT_INBOUND, "s")
