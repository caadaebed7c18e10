"""Live monitoring spies on exactly the agent's channel in the call, never a name prefix.

Asterisk's ``ChanSpy(chanprefix)`` matches every channel whose name starts with the argument:
the member interface ``PJSIP/10`` of one agent also matches ``PJSIP/1001-...``, another agent's
call. The monitor therefore passes the agent's full channel name (AgentConnect's DestChannel)
with option ``u`` (one fully specified channel, Asterisk 22's ``core show application
ChanSpy``); the same against the real Asterisk is in
tests/integration/callcenter/recording/test_recording_asterisk.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.events import AmiEvent
from callcenter.calls.state import LiveCall
from callcenter.monitoring.errors import NotMonitorable
from callcenter.monitoring.services import MonitorMode, chanspy_data, start_monitor
from callcenter.settings import RecordingSettings

AGENT_10 = "PJSIP/10-0000002a"
AGENT_1001 = "PJSIP/1001-0000002b"


@dataclass
class _Response:
    action_id: str = "action-1"


@dataclass
class FakeAmi:
    """Records the Originates it is asked for."""

    originates: list[dict[str, Any]] = field(default_factory=list)

    async def originate(self, channel: str, **kwargs: Any) -> _Response:
        self.originates.append({"channel": channel, **kwargs})
        return _Response()


def chanspy_targets(data: str, live_channels: list[str]) -> list[str]:
    """The channels ChanSpy would spy on, as app_chanspy selects them: with ``u`` the
    argument is one channel's full name (or uniqueid); without it, a name prefix."""
    target, _, options = data.partition(",")
    if "u" in options:
        return [name for name in live_channels if name == target]
    return [name for name in live_channels if name.startswith(target)]


def _agent_connect(linkedid: str, interface: str, channel: str) -> AmiEvent:
    return AmiEvent(
        "AgentConnect",
        {
            "Linkedid": linkedid,
            "Uniqueid": linkedid,
            "Queue": "appointments",
            "Interface": interface,
            "DestChannel": channel,
            "HoldTime": "3",
        },
    )


def test_the_call_keeps_the_agents_own_channel_from_agent_connect() -> None:
    call = LiveCall("1700000000.1", datetime.now(UTC))
    call.apply(_agent_connect("1700000000.1", "PJSIP/10", AGENT_10), frozenset())
    assert (call.agent_interface, call.agent_channel) == ("PJSIP/10", AGENT_10)
    # Not a column of the call log: no schema change.
    assert "agent_channel" not in call.row()


@pytest.mark.parametrize("mode", list(MonitorMode))
async def test_monitoring_agent_10_never_attaches_to_agent_1001(mode: MonitorMode) -> None:
    ami = FakeAmi()
    await start_monitor(
        cast(AmiBridge, ami),
        RecordingSettings(),
        supervisor_extension="2001",
        channel=AGENT_10,
        mode=mode,
        linkedid="1700000000.1",
    )
    (originate,) = ami.originates
    assert originate["channel"] == "PJSIP/2001"
    assert originate["application"] == "ChanSpy"
    live = [AGENT_1001, AGENT_10, "PJSIP/100-0000002c", "PJSIP/10-0000002a0"]
    assert chanspy_targets(originate["data"], live) == [AGENT_10]


def test_chanspy_options_per_mode_name_one_channel() -> None:
    assert chanspy_data(AGENT_10, MonitorMode.LISTEN) == f"{AGENT_10},quE"
    assert chanspy_data(AGENT_10, MonitorMode.WHISPER) == f"{AGENT_10},qwuE"
    assert chanspy_data(AGENT_10, MonitorMode.BARGE) == f"{AGENT_10},qBuE"
    local = "Local/1001@sim-agents-0000001a;1"
    assert chanspy_data(local, MonitorMode.LISTEN) == f"{local},quE"


@pytest.mark.parametrize(
    "channel",
    [
        "PJSIP/10",  # a member interface: a prefix of every channel of that phone and more
        "PJSIP/1001",
        "PJSIP/10-2a",
        "PJSIP/10-0000002a,b(x)",
        "PJSIP/10-0000002a;3",
        "",
    ],
)
def test_anything_but_a_full_channel_name_is_refused(channel: str) -> None:
    with pytest.raises(NotMonitorable):
        chanspy_data(channel, MonitorMode.LISTEN)
