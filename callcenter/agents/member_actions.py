"""The queue-member actions sent to Asterisk: QueueAdd, QueueRemove and QueuePause.

An action whose goal is already reached (the member is already there, or no longer there) is
not a failure; any other refusal, a dropped link or a timeout becomes
:class:`~callcenter.agents.errors.TelephonyUnavailable`, the one error the desk reports.
"""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.agents.errors import TelephonyUnavailable
from callcenter.agents.state import WRAPUP_HOLD_REASON, AgentStatus
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiActionError, AmiError, AmiNotConnected, AmiTimeout
from callcenter.ami.protocol import ActionValue

# Asterisk's answers when the member is already (or no longer) there: the goal is reached.
_ALREADY_THERE = "already there"
_NOT_THERE = "not there"


class QueueMembers:
    """Puts agents' phones in and out of queues, and pauses them, over the AMI bridge."""

    def __init__(self, ami: AmiBridge) -> None:
        self._ami = ami

    async def add(self, status: AgentStatus, queues: Iterable[str]) -> None:
        """Add the phone to ``queues``, paused if the agent is paused or held for wrap-up."""
        for queue in queues:
            headers: dict[str, ActionValue] = {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": status.interface,
                "MemberName": status.username,
                "Paused": "true" if status.paused or status.held else "false",
            }
            if status.interface.startswith("PJSIP/"):
                # Ring state of a real phone comes from its device (busy on a direct call too).
                headers["StateInterface"] = status.interface
            await self._send(headers, tolerate=_ALREADY_THERE)

    async def remove(self, status: AgentStatus, queues: Iterable[str]) -> None:
        for queue in queues:
            await self._send(
                {"Action": "QueueRemove", "Queue": queue, "Interface": status.interface},
                tolerate=_NOT_THERE,
            )

    async def remove_quietly(self, status: AgentStatus, queues: Iterable[str]) -> None:
        """Undo a half-done sign-in; a dropped link is no error here."""
        try:
            await self.remove(status, queues)
        except TelephonyUnavailable:
            return  # the link is down: Asterisk will not ring it for us anyway

    async def pause(self, status: AgentStatus, *, paused: bool, reason: str) -> None:
        headers: dict[str, ActionValue] = {
            "Action": "QueuePause",
            "Interface": status.interface,
            "Paused": "true" if paused else "false",
        }
        if reason:
            headers["Reason"] = reason
        await self._send(headers, tolerate=None)

    async def _send(self, headers: dict[str, ActionValue], *, tolerate: str | None) -> None:
        try:
            await self._ami.send_action(headers)
        except AmiActionError as exc:
            if tolerate and tolerate in exc.message.lower():
                return
            raise TelephonyUnavailable(
                f"Asterisk refused {headers['Action']}: {exc.message}"
            ) from exc
        except AmiNotConnected as exc:
            raise TelephonyUnavailable("the phone system is not connected; try again") from exc
        except (AmiTimeout, AmiError) as exc:
            raise TelephonyUnavailable("the phone system did not answer; try again") from exc


def asterisk_reason(status: AgentStatus) -> str:
    """Why Asterisk should have the phone paused: the agent's pause, else the wrap-up hold."""
    return status.pause_reason if status.paused else WRAPUP_HOLD_REASON
