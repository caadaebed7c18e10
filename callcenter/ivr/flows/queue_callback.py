"""The callback key (route ``queue-callback``): a caller waiting in a queue pressed 1.

The dialplan (``callcenter-queue-keys``, docs/ivr.md) runs this with the queue's name; the
caller has left Asterisk's queue, and QUEUEPOSITION says where they were. Menu map: "We will
call you back at <caller ID>. To confirm this number, press 1; to give another, press 2" (no
usable caller ID: straight to "please enter the number ... then hash") -> "Thank you, you keep
your place ..." and the call ends (``CALLCENTER_CALLBACK=saved``). A number that cannot be
dialled (not a possible number of the hospital's region, or not E.164) is refused there and
then: "Sorry, we cannot call that number. You keep your place" and the dialplan puts the caller
back at the position they left. Silence or another key at the confirmation: "You keep your place
in the queue", back the same way. A hang-up stores nothing.

The callback keeps the time the caller joined the queue (``CALLCENTER_QUEUED_AT``, set by the
dialplan) and their queue priority: callcenter/callbacks/ places it behind exactly the callers
who arrived before them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext
from callcenter.agi.dialog import SayDigits
from callcenter.agi.errors import CallerHungUp
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.ivr import callback_prompts as said
from callcenter.ivr.queue_handoff import PRIORITY_VARIABLE
from hcrm_core.errors import InvalidPhoneNumber
from hcrm_core.models import utcnow
from hcrm_core.phones import is_e164, to_e164
from hcrm_core.services.callbacks import CallbackService
from hcrm_core.services.patients import PatientService

_LOG = logging.getLogger(__name__)
_QUEUE = re.compile(r"[a-z][a-z0-9_-]{1,31}")
# Read back by the dialplan: "saved" ends the call, anything else rejoins the queue.
DIALPLAN_RESULT = "CALLCENTER_CALLBACK"
QUEUED_AT_VARIABLE = "CALLCENTER_QUEUED_AT"
POSITION_VARIABLE = "QUEUEPOSITION"
CONFIRM_KEY, OTHER_KEY = "1", "2"
MAX_NUMBER_DIGITS = 16
KEY_TIMEOUT_MS = 6000
# Neither 1 nor 2 at the confirmation: back to the queue without a number (never an E.164).
DECLINED: Final = "declined"


@dataclass(frozen=True)
class CallbackDialogServices:
    callbacks: CallbackService
    patients: PatientService
    # The hospital's phone region: numbers are read as the patient would key them.
    region: str


def _number(raw: str, region: str) -> str | None:
    try:
        number = to_e164(raw, region)
    except InvalidPhoneNumber:
        return None
    return number if is_e164(number) else None


async def _int_variable(agi: AgiChannel, name: str) -> int | None:
    value = (await agi.get_variable(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


async def queue_callback(
    agi: AgiChannel, *, bus: EventBus, services: CallbackDialogServices
) -> None:
    """The whole dialog; the dialplan reads ``CALLCENTER_CALLBACK`` afterwards."""
    queue = agi.env.arguments[0] if agi.env.arguments else ""
    if not _QUEUE.fullmatch(queue):
        _LOG.warning("callback key for %r not served (linkedid=%s)", queue, agi.linkedid)
        return
    ivr = LocalisedIvr(agi, CallContext(agi.linkedid, bus))
    language = kit_prompts.supported(agi.env.language)
    if language:
        ivr.language = language
    ivr.call.enter("queue-callback", queue=queue)
    try:
        number = await _confirmed_number(ivr, services.region)
    except CallerHungUp:
        ivr.call.leave("queue-callback", queue=queue, outcome="hung_up")
        raise
    if number == DECLINED:
        await ivr.play(said.KEPT)
        ivr.call.leave("queue-callback", queue=queue, outcome="declined")
        return
    if number is None:
        await ivr.play(said.REFUSED)
        ivr.call.leave("queue-callback", queue=queue, outcome="refused")
        return
    joined = await _int_variable(agi, QUEUED_AT_VARIABLE)
    arrived_at = datetime.fromtimestamp(joined, UTC) if joined else utcnow()
    found = await services.patients.find_by_phone(number)
    callback = await services.callbacks.request(
        queue,
        number,
        arrived_at=arrived_at,
        priority=await _int_variable(agi, PRIORITY_VARIABLE) or 0,
        position=await _int_variable(agi, POSITION_VARIABLE),
        patient_id=found[0].id if len(found) == 1 else None,
        linkedid=agi.linkedid,
    )
    await agi.set_variable(DIALPLAN_RESULT, "saved")
    await ivr.play(said.SAVED)
    ivr.call.leave("queue-callback", queue=queue, outcome="saved", callback_id=callback.id)


async def _confirmed_number(ivr: LocalisedIvr, region: str) -> str | None:
    """The caller ID confirmed with 1, else a number keyed in; None when not dialable,
    :data:`DECLINED` when the caller gave neither key at the confirmation."""
    caller = _number(ivr.agi.env.caller_id, region)
    if caller is not None:
        await ivr.play(said.CALLBACK_AT, SayDigits(caller.lstrip("+")))
        key = await ivr.agi.get_data(said.CONFIRM, timeout_ms=KEY_TIMEOUT_MS, max_digits=1)
        if key == CONFIRM_KEY:
            return caller
        if key != OTHER_KEY:
            return DECLINED
    keyed = await ivr.agi.get_data(
        said.ENTER_NUMBER, timeout_ms=KEY_TIMEOUT_MS, max_digits=MAX_NUMBER_DIGITS
    )
    return _number(keyed or "", region)
