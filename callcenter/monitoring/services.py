"""Live monitoring: a supervisor's phone listens to, whispers to or barges into a call.

AMI Originate rings the supervisor's phone; when it answers, ``ChanSpy`` runs on it against
the agent's channel. Options: ``q`` (no beep or channel name spoken), ``w`` whisper (the agent
hears the supervisor, the caller does not), ``B`` barge (both hear), ``u`` (the argument is one
fully specified channel name, not a prefix) and ``E`` (the spy ends when that channel hangs
up). The spied channel is the agent's own channel in this call (AgentConnect's DestChannel) as
the server's call tracker saw it, never the request's and never the queue member interface:
``ChanSpy(PJSIP/10)`` would also match ``PJSIP/1001-...``, another agent's call.
"""

from __future__ import annotations

import enum
import re

from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiError
from callcenter.monitoring.errors import NotMonitorable, TelephonyUnavailable
from callcenter.settings import RecordingSettings
from hcrm_core.errors import ValidationFailed

_EXTENSION = re.compile(r"^[0-9]{2,10}$")
# A channel's full name as Asterisk makes it: tech/resource, then "-" and its 8-hex-digit
# sequence (";1"/";2" for the halves of a Local channel), no separator ChanSpy parses. A bare
# interface ("PJSIP/1001") has no sequence and is refused.
_CHANNEL = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9@._-]{1,150}-[0-9a-f]{8}(;[12])?$")


class MonitorMode(enum.StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


_OPTIONS = {MonitorMode.LISTEN: "q", MonitorMode.WHISPER: "qw", MonitorMode.BARGE: "qB"}
# u: exactly this channel (not a prefix); E: stop when it hangs up (no hunting for another).
_EXACT = "uE"


def chanspy_data(channel: str, mode: MonitorMode) -> str:
    """ChanSpy's argument for spying on exactly ``channel`` (a full channel name)."""
    if not _CHANNEL.match(channel):
        raise NotMonitorable("the call's channel cannot be monitored")
    return f"{channel},{_OPTIONS[mode]}{_EXACT}"


async def start_monitor(
    ami: AmiBridge,
    settings: RecordingSettings,
    *,
    supervisor_extension: str,
    channel: str,
    mode: MonitorMode,
    linkedid: str,
) -> str:
    """Ring the supervisor's phone into ChanSpy on ``channel``; returns the Originate ActionID."""
    if not _EXTENSION.match(supervisor_extension):
        raise ValidationFailed("extension", "your user has no phone extension to monitor from")
    dial = settings.supervisor_dial.replace("{extension}", supervisor_extension)
    try:
        response = await ami.originate(
            dial,
            application="ChanSpy",
            data=chanspy_data(channel, mode),
            caller_id=f'"Monitor" <{supervisor_extension}>',
            variables={"CALLCENTER_MONITOR_OF": linkedid},
        )
    except AmiError as exc:
        raise TelephonyUnavailable("the phone system cannot place the call now") from exc
    return response.action_id


class MonitorService:
    """Live monitoring from a supervisor's phone, on the server's AMI bridge."""

    def __init__(self, ami: AmiBridge, settings: RecordingSettings) -> None:
        self._ami = ami
        self._settings = settings

    async def start(
        self, *, supervisor_extension: str, channel: str, mode: MonitorMode, linkedid: str
    ) -> str:
        """:func:`start_monitor` on this server's bridge; returns the Originate ActionID."""
        return await start_monitor(
            self._ami,
            self._settings,
            supervisor_extension=supervisor_extension,
            channel=channel,
            mode=mode,
            linkedid=linkedid,
        )
