"""The closed branch: what a caller hears on the way to a queue that is closed.

Menu map (docs/ivr.md): "Our agents are not available ... we open again on <day and time>"
-> the emergency key (when configured: transferred to the emergency number), 1 leave a
message (recorded after the tone, kept as an after-hours request), 2 be called back (a
request for the caller ID, and the identified patient) -> goodbye. A wrong key or silence asks
again like every menu; 0 (agents are closed) or three failures end the call politely. A
hang-up during the message keeps what was recorded: the request is stored all the same.

:func:`closed_flow` is the one call the hand-off makes; with no :class:`AfterHoursServices`
(tests, tools) or a queue without hours, it returns False and the hand-off goes on as always.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePosixPath

from callcenter.agi.context import ToAgent
from callcenter.agi.dialog import SayDateTime, Segment
from callcenter.agi.errors import CallerHungUp, RecordingFailed, SoundMissing
from callcenter.agi.localised import LocalisedIvr
from callcenter.ivr import after_hours_prompts as closed
from callcenter.ivr import prompts
from hcrm_core.models import AfterHoursKind, utcnow
from hcrm_core.models.hours import VOICEMAIL_PREFIX
from hcrm_core.services.opening_hours import ClosedOptions, OpeningHoursService

_LOG = logging.getLogger(__name__)

# Read by the dialplan (hospital-inbound) after the dialog: a dial string to transfer to.
TRANSFER_VARIABLE = "CALLCENTER_TRANSFER"
VOICEMAIL_KEY = "1"
CALLBACK_KEY = "2"
MESSAGE_MAX_MS = 120_000
MESSAGE_SILENCE_S = 5


class ClosedChoice(enum.Enum):
    EMERGENCY = "emergency"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


@dataclass(frozen=True)
class AfterHoursServices:
    """What the closed branch needs: the hours, the clock and where messages are recorded."""

    hours: OpeningHoursService
    # The hospital's zone name, for saying the next opening time.
    timezone: str
    # Where Asterisk writes voicemails (its own view of the recordings directory).
    recordings_dir: PurePosixPath
    # The dial string of an outside number ({number}: the configured E.164 number).
    dial_channel: str = "Local/{number}@callcenter-outbound-dial"
    clock: Callable[[], datetime] = utcnow


async def closed_flow(ivr: LocalisedIvr, services: AfterHoursServices | None, queue: str) -> bool:
    """Serve the caller here when ``queue`` is closed now; True when it was (the call ends)."""
    if services is None:
        return False
    now = services.clock()
    calendar = await services.hours.calendar(queue, now)
    if calendar.is_open(now):
        return False
    opening = calendar.next_opening(now)
    options = await services.hours.options(queue)
    ivr.call.enter("closed", queue=queue, next_opening=opening.isoformat() if opening else None)
    await _closed_sentence(ivr, options)
    await ivr.play(*_next_opening(opening, services.timezone))
    choice = await _closed_menu(ivr, options)
    if choice is ClosedChoice.EMERGENCY and options.emergency_number:
        await ivr.play(closed.TRANSFERRING)
        channel = services.dial_channel.replace("{number}", options.emergency_number)
        await ivr.agi.set_variable(TRANSFER_VARIABLE, channel)
        ivr.call.leave("closed-emergency", queue=queue)
        return True
    if choice is ClosedChoice.VOICEMAIL:
        await _voicemail(ivr, services, queue)
    elif choice is ClosedChoice.CALLBACK:
        await _request(ivr, services, queue, AfterHoursKind.CALLBACK)
        await ivr.play(closed.CALLBACK_SAVED)
    await ivr.play(prompts.GOODBYE)
    ivr.call.leave("closed", queue=queue, choice=choice.value if choice else None)
    return True


async def _closed_sentence(ivr: LocalisedIvr, options: ClosedOptions) -> None:
    """The queue's own message in the caller's language, else (or not rendered yet) ours."""
    if options.closed_messages.get(ivr.language):
        try:
            await ivr.agi.stream_file(closed.closed_message_prompt(options.queue))
            return
        except SoundMissing:
            pass  # kept since the last `prompts build`: the standard sentence instead
    await ivr.play(closed.CLOSED)


def _next_opening(opening: datetime | None, timezone: str) -> list[Segment]:
    if opening is None:
        return []
    return [closed.OPENS_AT, SayDateTime(opening, timezone), closed.OPENS_AFTER]


async def _closed_menu(
    ivr: LocalisedIvr, options: ClosedOptions, callback_for: str = closed.CALLBACK_FOR
) -> ClosedChoice | None:
    """The offered choices, or None when nothing is offered or the caller gave up."""
    segments: list[Segment] = []
    keys: dict[str, ClosedChoice] = {}
    if options.emergency_digit and options.emergency_number:
        segments += [closed.EMERGENCY_FOR, prompts.PRESS[int(options.emergency_digit)]]
        keys[options.emergency_digit] = ClosedChoice.EMERGENCY
    if options.voicemail:
        segments += [closed.VOICEMAIL_FOR, prompts.PRESS[int(VOICEMAIL_KEY)]]
        keys[VOICEMAIL_KEY] = ClosedChoice.VOICEMAIL
    if options.callback:
        segments += [callback_for, prompts.PRESS[int(CALLBACK_KEY)]]
        keys[CALLBACK_KEY] = ClosedChoice.CALLBACK
    if not keys:
        return None
    try:
        return await ivr.menu(segments, keys, step="closed-menu")
    except ToAgent:
        # 0 or three failures: there is no agent to go to; the caller hears goodbye.
        return None


async def _voicemail(ivr: LocalisedIvr, services: AfterHoursServices, queue: str) -> None:
    """Record after the tone; whatever was recorded is kept, even if the caller hangs up."""
    name = f"{VOICEMAIL_PREFIX}{int(services.clock().timestamp())}-{uuid.uuid4().hex[:12]}"
    path = services.recordings_dir / name
    await ivr.play(closed.RECORD_AFTER_TONE)
    ivr.call.enter("closed-voicemail", queue=queue)
    try:
        await ivr.agi.record_file(
            path, escape_digits="#", max_ms=MESSAGE_MAX_MS, silence_s=MESSAGE_SILENCE_S
        )
    except RecordingFailed:
        _LOG.error("voicemail not recorded (linkedid=%s): a callback is kept", ivr.call.linkedid)
        await _request(ivr, services, queue, AfterHoursKind.CALLBACK)
        await ivr.play(closed.CALLBACK_SAVED)
        return
    except CallerHungUp:
        # Asterisk keeps what it recorded up to the hang-up: the message is still a request.
        await _request(ivr, services, queue, AfterHoursKind.VOICEMAIL, f"{path}.wav")
        ivr.call.leave("closed-voicemail", queue=queue, hung_up=True)
        raise
    await _request(ivr, services, queue, AfterHoursKind.VOICEMAIL, f"{path}.wav")
    await ivr.play(closed.MESSAGE_SAVED)


async def _request(
    ivr: LocalisedIvr,
    services: AfterHoursServices,
    queue: str,
    kind: AfterHoursKind,
    recording: str | None = None,
) -> None:
    row = await services.hours.record_request(
        kind,
        queue,
        caller_number=ivr.agi.env.caller_id.strip(),
        patient_id=ivr.call.patient_id,
        recording_path=recording,
        linkedid=ivr.call.linkedid,
    )
    _LOG.info(
        "after-hours %s request %d stored (linkedid=%s)", kind.value, row.id, ivr.call.linkedid
    )


async def message_menu(
    ivr: LocalisedIvr, services: AfterHoursServices, queue: str
) -> ClosedChoice | None:
    """A queue's message overflow (``flows/overflow.py``): this branch's 1 leave a message and
    2 be called back, as the queue's closed options allow, stored as the same after-hours
    requests for ``queue``. No emergency key and no opening time: the queue is open, only
    nobody answered in time."""
    options = replace(await services.hours.options(queue), emergency_digit=None)
    choice = await _closed_menu(ivr, options, callback_for=closed.OVERFLOW_CALLBACK_FOR)
    if choice is ClosedChoice.VOICEMAIL:
        await _voicemail(ivr, services, queue)
    elif choice is ClosedChoice.CALLBACK:
        await _request(ivr, services, queue, AfterHoursKind.CALLBACK)
        await ivr.play(closed.OVERFLOW_CALLBACK_SAVED)
    return choice
