"""The campaign dialogs (FastAGI route ``survey``): what an answered patient hears.

Menu map (docs/outbound.md):

- every call: the hospital's name first ("Hello, this is General Hospital calling"); an
  answering machine (``AMDSTATUS=MACHINE`` when the campaign runs AMD) gets a short message or
  nothing, per campaign;
- reminder: the appointment (department, date and time) then 1 confirm, 2 cancel (the
  appointment is really cancelled), 3 an agent, 9 opt out;
- follow-up, adherence, survey: 1 to answer, 9 opt out; then each question from the campaign's
  data (choice questions also take 9 to opt out; NPS takes 0-10, ``#`` ends "10");
- ``0`` reaches an agent and ``*`` repeats, as everywhere in the IVR; three wrong answers reach
  an agent. When the campaign's agent queue keeps opening hours and is closed, the patient hears
  so instead and a callback request is stored (an after-hours request with a follow-up task).
  The attempt's id is the channel's Uniqueid: nothing the far end sends identifies it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

from callcenter.agi import prompts as kit_prompts
from callcenter.agi.channel import AgiChannel
from callcenter.agi.context import CallContext, ToAgent
from callcenter.agi.dialog import SayDateTime, Segment
from callcenter.agi.errors import CallerHungUp
from callcenter.agi.localised import LocalisedIvr
from callcenter.bus import EventBus
from callcenter.calls.channel_ids import attempt_of
from callcenter.outbound import prompts
from callcenter.outbound.errors import OptedOut
from hcrm_core.actors import Actor
from hcrm_core.errors import DomainError
from hcrm_core.models import AfterHoursKind, AttemptStatus, CampaignKind, Channel
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns_answers import AnswerService, DialogInfo
from hcrm_core.services.campaigns_attempts import AttemptService
from hcrm_core.services.campaigns_config import NPS, Question
from hcrm_core.services.campaigns_errors import AttemptNotFound
from hcrm_core.services.opening_hours import OpeningHoursService

_LOG = logging.getLogger(__name__)

OPT_OUT_KEY = "9"
QUEUE_VARIABLE = "CALLCENTER_QUEUE"
_OPT_OUT = "opt-out"
ReminderChoice = Literal["confirm", "cancel", "agent", "opt_out"]
_REMINDER_KEYS: dict[str, ReminderChoice] = {
    "1": "confirm",
    "2": "cancel",
    "3": "agent",
    OPT_OUT_KEY: "opt_out",
}


@dataclass(frozen=True, slots=True)
class DialogServices:
    attempts: AttemptService
    answers: AnswerService
    appointments: AppointmentService
    bus: EventBus
    timezone: str
    channel_prefix: str
    # Opening hours: a patient asking for an agent while the queue is closed gets a callback
    # request instead of a transfer (None: always open).
    hours: OpeningHoursService | None = None


async def outbound_call(agi: AgiChannel, *, services: DialogServices) -> None:
    """The whole dialog of one answered campaign call."""
    attempt_id = attempt_of(services.channel_prefix, agi.env.uniqueid)
    if attempt_id is None:
        _LOG.warning("survey route reached by a call that is no attempt (%s)", agi.log_context())
        await agi.hangup()
        return
    try:
        info = await services.answers.dialog(attempt_id)
    except AttemptNotFound:
        # Another database's attempt on a shared Asterisk (a channel_prefix clash): not ours.
        _LOG.warning("attempt=%s unknown to this database; hanging up", attempt_id)
        await agi.hangup()
        return
    ivr = LocalisedIvr(agi, CallContext(agi.linkedid, services.bus, patient_id=info.patient_id))
    language = kit_prompts.supported(info.language)
    detail = "hung_up_in_dialog"
    status = AttemptStatus.COMPLETED
    try:
        if language and language != kit_prompts.DEFAULT_LANGUAGE:
            await ivr.set_language(language)
        if await agi.get_variable("AMDSTATUS") == "MACHINE":
            status, detail = AttemptStatus.MACHINE, "machine"
            if info.config.machine_message:
                await ivr.play(prompts.MACHINE_MESSAGE)
        else:
            ivr.call.enter("outbound-hello", attempt_id=attempt_id, campaign_id=info.campaign_id)
            await ivr.play(prompts.HELLO)
            detail = await _converse(ivr, info, services)
            await ivr.play(prompts.THANKS)
    except OptedOut:
        detail = "opted_out"
        cancelled = await services.answers.opt_out(attempt_id, Actor("dialer", source=agi.linkedid))
        _LOG.info("attempt=%s opted out; %d queued attempts cancelled", attempt_id, cancelled)
        await ivr.play(prompts.OPTED_OUT)
    except ToAgent as transfer:
        queue = info.config.agent_queue
        if await _agents_closed(services, queue):
            detail = "agents_closed_callback"
            await _call_back_when_open(ivr, services, info, queue)
        else:
            detail = "to_agent"
            await ivr.play(kit_prompts.TO_AGENT)
            await agi.set_variable(QUEUE_VARIABLE, queue)
            ivr.call.leave("to-agent", queue=queue, reason=transfer.reason)
    except CallerHungUp:
        _LOG.info("attempt=%s: patient hung up during the dialog", attempt_id)
    except asyncio.CancelledError:
        # The server is stopping while the call is up: the next start reconciles the attempt
        # from Asterisk and the call log, so nothing is written from here.
        _LOG.info("attempt=%s: dialog cut short by shutdown", attempt_id)
        raise
    # The outcome is written whatever happened, a hang-up included (answers already given
    # are kept: each was stored as it was given).
    await services.attempts.finish(attempt_id, status, detail=detail)
    _LOG.info("attempt=%s dialog ended: %s", attempt_id, detail)


async def _agents_closed(services: DialogServices, queue: str) -> bool:
    """The agents' queue keeps opening hours and is closed now."""
    if services.hours is None:
        return False
    return not await services.hours.is_open(queue, services.hours.clock())


async def _call_back_when_open(
    ivr: LocalisedIvr, services: DialogServices, info: DialogInfo, queue: str
) -> None:
    """No transfer into a closed queue: a callback request for the queue (the IVR's
    after-hours request, with the patient's follow-up task), then goodbye."""
    assert services.hours is not None
    row = await services.hours.record_request(
        AfterHoursKind.CALLBACK,
        queue,
        caller_number=info.phone,
        patient_id=info.patient_id,
        linkedid=ivr.call.linkedid,
    )
    _LOG.info("attempt=%s: %s closed, callback request %d", info.attempt_id, queue, row.id)
    ivr.call.leave("agents-closed", queue=queue, request_id=row.id)
    with contextlib.suppress(CallerHungUp):  # the request is kept: the outcome is written next
        await ivr.play(prompts.AGENTS_CLOSED)


async def _converse(ivr: LocalisedIvr, info: DialogInfo, services: DialogServices) -> str:
    if info.kind is CampaignKind.REMINDER:
        return await reminder(ivr, info, services)
    if info.kind is CampaignKind.APPOINTMENT_CHANGED:
        return await appointment_changed(ivr, info, services)
    return await survey(ivr, info, services)


def _appointment_said(
    intro: str, info: DialogInfo, services: DialogServices, menu: str
) -> list[Segment]:
    """``intro``, the department, "on", the date and time, then ``menu``."""
    assert info.appointment_starts_at is not None
    segments: list[Segment] = [intro]
    if info.department_code:
        segments.append(kit_prompts.department_prompt(info.department_code))
    segments += [prompts.ON, SayDateTime(info.appointment_starts_at, services.timezone), menu]
    return segments


async def appointment_changed(ivr: LocalisedIvr, info: DialogInfo, services: DialogServices) -> str:
    """The hospital moved or cancelled the appointment (a schedule change): a moved one is
    said with the reminder's menu; a cancelled one offers 3 an agent (to rebook), 9 opt out."""
    if info.appointment_id is None or info.appointment_starts_at is None:
        return "no_appointment"
    if not info.appointment_cancelled:
        return await reminder(ivr, info, services, intro=prompts.CHANGED_MOVED)
    segments = _appointment_said(
        prompts.CHANGED_CANCELLED, info, services, prompts.CHANGED_CANCELLED_MENU
    )
    choice = await ivr.menu(
        segments, {"3": "agent", OPT_OUT_KEY: "opt_out"}, step="appointment-changed"
    )
    if choice == "opt_out":
        raise OptedOut()
    raise ToAgent("patient wants a new appointment", "appointment-changed")


async def reminder(
    ivr: LocalisedIvr,
    info: DialogInfo,
    services: DialogServices,
    *,
    intro: str = prompts.REMINDER_INTRO,
) -> str:
    """Say the appointment; 1 confirms, 2 cancels it, 3 an agent, 9 opt out."""
    if info.appointment_id is None or info.appointment_starts_at is None:
        return "no_appointment"
    segments = _appointment_said(intro, info, services, prompts.REMINDER_MENU)
    choice = await ivr.menu(segments, _REMINDER_KEYS, step="reminder")
    if choice == "opt_out":
        raise OptedOut()
    if choice == "agent":
        raise ToAgent("patient asked for an agent", "reminder")
    if choice == "confirm":
        await services.answers.store_answer(info, "reminder", "confirmed")
        await ivr.play(prompts.CONFIRMED)
        return "confirmed"
    try:
        await services.appointments.cancel(
            info.appointment_id,
            actor=Actor("dialer", source=ivr.call.linkedid),
            channel=Channel.OUTBOUND,
            reason="cancelled on a reminder call",
            # The hospital asked: a cancellation now frees the slot for someone else.
            enforce_cutoff=False,
        )
    except DomainError as error:
        _LOG.info("attempt=%s cancel refused: %s", info.attempt_id, error.code)
        await ivr.play(prompts.CANCEL_FAILED)
        raise ToAgent("cancellation failed", "reminder") from error
    await services.answers.store_answer(info, "reminder", "cancelled")
    await ivr.play(prompts.CANCELLED)
    return "appointment_cancelled"


async def survey(ivr: LocalisedIvr, info: DialogInfo, services: DialogServices) -> str:
    """1 to answer (9 opts out), then every question of the campaign, answers stored as given."""
    if not await ivr.menu(prompts.SURVEY_INTRO, {"1": True, OPT_OUT_KEY: False}, step="intro"):
        raise OptedOut()
    escalated = False
    for question in info.config.questions:
        value = await _ask(ivr, info, question)
        escalated |= await services.answers.record_answer(info, question.key, value)
    return "escalated" if escalated else "answered"


async def _ask(ivr: LocalisedIvr, info: DialogInfo, question: Question) -> str:
    prompt = prompts.question_prompt(info.campaign_id, question.key)
    step = f"question-{question.key}"
    if question.kind == NPS:
        # 9 is a score here: the opt-out was offered before the first question.
        return await ivr.ask(prompt, question.parse, step=step, max_digits=2)
    # Answer values are lower-case words (settings rule): "opt-out" can be none of them.
    options = {**question.options, OPT_OUT_KEY: _OPT_OUT}
    value = await ivr.menu([prompt, prompts.OPT_OUT_HINT], options, step=step)
    if value == _OPT_OUT:
        raise OptedOut()
    return value
