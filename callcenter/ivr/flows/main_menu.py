"""The inbound IVR (route ``ivr``): language, welcome, identify, main menu; and the way to an agent.

Menu map (docs/ivr.md): language (the patient's own from caller ID, else "1 English, 2 普通话")
-> welcome -> identify (caller ID + date of birth, or record number + date of birth) -> main
menu: 1 book, 2 review or cancel (back to the main menu when there is nothing to cancel), 0 agent.
On the way to an agent, when the site asks for recording consent (``recording.consent = "ask"``):
"1 allow, 2 refuse"; the answer goes to the dialplan in ``CALLCENTER_RECORD``.
The dialplan (``hospital-inbound``) sends the caller to the queue named in ``CALLCENTER_QUEUE``
once this dialog returns; when it is empty the call is hung up.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field

from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.dialog import Ivr
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.ivr import prompts
from callcenter.ivr.flows.after_hours import AfterHoursServices, closed_flow
from callcenter.ivr.flows.book import BookingServices, book
from callcenter.ivr.flows.cancel import CancelServices, review_and_cancel
from callcenter.ivr.flows.identify import caller_id_matches, identify
from callcenter.ivr.flows.language import choose_language, known_language
from callcenter.ivr.lockout import IdentityLockout
from callcenter.ivr.queue_handoff import Handoff, QueueRouting, ToQueue, menu_choices
from hcrm_core.models import Patient
from hcrm_core.services.patients import PatientService

AGENT_QUEUE = "appointments"
CALLER_ID_LOOKUPS = 4
QUEUE_VARIABLE = "CALLCENTER_QUEUE"
# Read by the dialplan's callcenter-record on this same channel (the AGI channel is the one that
# goes on to the queue): yes follows the site's policy, no is never recorded.
RECORD_VARIABLE = "CALLCENTER_RECORD"


class MainChoice(enum.Enum):
    BOOK = "book"
    REVIEW = "review"


def _lookup_gate() -> asyncio.Semaphore:
    return asyncio.Semaphore(CALLER_ID_LOOKUPS)


@dataclass(frozen=True)
class IvrServices:
    """What the IVR dialogs need from the HCRM core."""

    patients: PatientService
    booking: BookingServices
    cancelling: CancelServices
    # Caller-ID lookups running at once. Each costs the event loop a few milliseconds in
    # small steps (one per database round trip); when a burst of calls is answered together,
    # a hundred of them interleaved make every loop turn long, and every call's AGI commands
    # wait for it. A few at a time finish the burst's lookups just as soon (the loop does the
    # same work) while the loop stays responsive (benchmarks/README.md, ivr_load).
    lookups: asyncio.Semaphore = field(default_factory=_lookup_gate)
    # Failed identity checks per patient across calls (None: not counted, tests and tools).
    lockout: IdentityLockout | None = None
    # recording.consent = "ask": ask the caller before the hand-off to an agent.
    ask_recording_consent: bool = False
    # Opening hours: a closed queue gets the closed branch (None: always open).
    after_hours: AfterHoursServices | None = None
    # The queues kept in the database (None: the appointments queue, as before).
    routing: QueueRouting | None = None


async def ask_recording_consent(ivr: Ivr) -> bool:
    """Ask whether the call may be recorded and tell the dialplan (``CALLCENTER_RECORD``).

    1 allows (the site's policy then applies), 2 refuses. ``0``, or no valid answer after the
    retries, counts as a refusal: the caller is on their way to an agent anyway, and a call is
    not recorded without a yes. A hang-up ends the dialog as anywhere else.
    """
    try:
        allowed = await ivr.confirm(prompts.RECORDING_CONSENT, step="recording-consent")
    except ToAgent:
        allowed = False
    await ivr.agi.set_variable(RECORD_VARIABLE, "yes" if allowed else "no")
    ivr.call.enter("consent-given" if allowed else "consent-refused")
    return allowed


async def to_agent(
    ivr: Ivr, transfer: ToAgent, *, ask_consent: bool = False, handoff: Handoff | None = None
) -> None:
    """Hand the caller to the queue of ``handoff`` (the appointments queue when None) with
    everything the agent should see.

    With ``ask_consent`` the caller is first asked whether the call may be recorded."""
    if ask_consent:
        await ask_recording_consent(ivr)
    await ivr.play(prompts.TO_AGENT)
    handoff = handoff or Handoff(AGENT_QUEUE)
    await handoff.tell_dialplan(ivr.agi)
    ivr.call.leave(
        "to-agent",
        queue=handoff.queue,
        priority=handoff.priority,
        failed_at=transfer.step,
        reason=transfer.reason,
    )


async def main_menu(ivr: LocalisedIvr, services: IvrServices, patient: Patient) -> None:
    """Book, or review and cancel; back here when there was nothing to cancel."""
    queue_keys = await services.routing.menu_keys() if services.routing else {}
    while True:
        choice = await ivr.menu(
            [prompts.MAIN_MENU, *menu_choices(queue_keys)],
            {**queue_keys, "1": MainChoice.BOOK, "2": MainChoice.REVIEW},
            step="main-menu",
        )
        if isinstance(choice, str):
            raise ToQueue(choice, "main-menu")
        if choice is MainChoice.BOOK:
            appointment = await book(ivr, services.booking, patient)
            await ivr.play(prompts.GOODBYE)
            ivr.call.leave("done", appointment_id=appointment.id)
            return
        cancelled = await review_and_cancel(ivr, services.cancelling, patient)
        if cancelled is not None:
            await ivr.play(prompts.GOODBYE)
            ivr.call.leave("done", cancelled_appointment_id=cancelled.id)
            return


async def inbound(agi: AgiChannel, *, bus: EventBus, services: IvrServices) -> None:
    """The whole inbound dialog for one call."""
    ivr = LocalisedIvr(agi, CallContext(agi.linkedid, bus))
    ivr.call.enter("welcome", caller_id_given=bool(agi.env.caller_id.strip()))
    patient: Patient | None = None
    try:
        await agi.answer()
        matches = await caller_id_matches(ivr, services.patients, services.lookups)
        await choose_language(ivr, known_language(matches))
        await ivr.play(prompts.WELCOME)
        patient = await identify(ivr, services.patients, matches=matches, lockout=services.lockout)
        await main_menu(ivr, services, patient)
    except ToAgent as transfer:
        handoff = await services.routing.handoff(transfer, patient) if services.routing else None
        if await closed_flow(ivr, services.after_hours, handoff.queue if handoff else AGENT_QUEUE):
            return
        await to_agent(ivr, transfer, ask_consent=services.ask_recording_consent, handoff=handoff)
