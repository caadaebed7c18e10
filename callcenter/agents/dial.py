"""Click-to-dial: ring the agent's phone, then the patient, with the hospital's caller ID.

One async AMI Originate: Asterisk calls the agent's interface first; when they answer, it
continues in the dial context at the patient's number (``callcenter-outbound-dial`` filters it
again and sends it to the trunk). The number reaches the dial string only as validated E.164
digits; the caller ID only as the configured hospital number.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from callcenter.agents.errors import InvalidNumber, TelephonyUnavailable
from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiError
from callcenter.settings import AgentsSettings
from hcrm_core.errors import InvalidPhoneNumber, ValidationFailed
from hcrm_core.phones import is_e164, to_e164

_LOG = logging.getLogger(__name__)


def dial_number(raw: str, region: str) -> str:
    """The E.164 form of ``raw``, guaranteed to be '+' and 7-15 digits (safe in a dial string)."""
    try:
        e164 = to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        raise InvalidNumber(exc.message) from exc
    if not is_e164(e164):
        raise InvalidNumber("not a dialable number")
    return e164


def hospital_caller_id(number: str) -> str:
    if not is_e164(number) and not re.fullmatch(r"[0-9]{3,15}", number):
        raise ValidationFailed(
            "hospital.caller_id_number", "configure the hospital's caller ID to place calls"
        )
    return f"<{number}>"


@dataclass(frozen=True, slots=True)
class DialRequest:
    """What was asked of Asterisk (the channel id is the call's Linkedid)."""

    channel_id: str
    interface: str
    number: str
    caller_id: str


class ClickToDial:
    def __init__(
        self,
        ami: AmiBridge,
        agents: AgentService,
        settings: AgentsSettings,
        *,
        caller_id_number: str,
        phone_region: str,
    ) -> None:
        self._ami = ami
        self._agents = agents
        self._settings = settings
        self._caller_id_number = caller_id_number
        self._region = phone_region

    async def dial(self, username: str, raw_number: str) -> DialRequest:
        """Ask Asterisk to connect the signed-in agent with ``raw_number``."""
        status = self._agents.require(username)
        number = dial_number(raw_number, self._region)
        request = DialRequest(
            channel_id=f"c2d-{uuid.uuid4().hex[:16]}",
            interface=status.interface,
            number=number,
            caller_id=hospital_caller_id(self._caller_id_number),
        )
        try:
            await self._ami.originate(
                request.interface,
                context=self._settings.dial_context,
                exten=request.number,
                caller_id=request.caller_id,
                channel_id=request.channel_id,
                ring_timeout=self._settings.ring_timeout,
            )
        except AmiError as exc:
            raise TelephonyUnavailable("the phone system cannot place the call now") from exc
        _LOG.info(
            "click-to-dial by %s linkedid=%s via %s", username, request.channel_id, status.interface
        )
        return request
