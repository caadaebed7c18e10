"""A patient with a full history, for the export and erasure tests (hcrm_core and console)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import (
    AuditAction,
    Call,
    CallDirection,
    CallEvent,
    Campaign,
    CampaignAttempt,
    CampaignKind,
    Channel,
    Complaint,
    Recording,
    RecordingStatus,
    SurveyAnswer,
    Transcript,
)
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService, BookingRequest
from hcrm_core.services.audit import record_audit
from hcrm_core.services.scheduling import SchedulingService
from tests.support.factories import make_patient

PHONE = "(212) 555-0177"
E164 = "+12125550177"
SPOKEN = "my date of birth is the second of april"


def seal(text: str) -> str:
    """A stand-in cipher for the tests: the service must use the decrypt it is given."""
    return "v1:" + text[::-1]


def unseal(token: str) -> str:
    assert token.startswith("v1:")
    return token[3:][::-1]


@dataclass
class History:
    patient_id: int
    call_id: int
    linkedid: str
    recording_id: int
    appointment_id: int


async def make_history(
    database: Database,
    policy: BookingPolicy,
    department_id: int,
    *,
    given_name: str = "Edith",
    encrypt: Callable[[str], str] = seal,
) -> History:
    """A patient with a phone, an upcoming appointment, a recorded call with its raw events
    and an encrypted transcript, a survey answer, a complaint and a view in the audit log."""
    patient = await make_patient(
        database, policy, given_name=given_name, family_name="Erasmus", phones=(PHONE,)
    )
    scheduling = SchedulingService(database, policy)
    slot = (await scheduling.next_free_slots(department_id=department_id, limit=1))[0]
    appointment = await AppointmentService(database, policy).book(
        BookingRequest(patient.id, slot.slot_id, channel=Channel.AGENT, actor=Actor.system())
    )
    linkedid = f"{uuid.uuid4().hex[:10]}.1"
    now = datetime.now(UTC)
    async with database.transaction() as session:
        call = Call(
            linkedid=linkedid,
            direction=CallDirection.INBOUND,
            caller_number=E164,
            caller_name=f"{given_name} Erasmus",
            patient_id=patient.id,
            started_at=now - timedelta(minutes=5),
            notes="asked about her blood pressure",
            ivr_context={"identified": patient.id},
        )
        session.add(call)
        await session.flush()
        session.add(
            CallEvent(
                linkedid=linkedid,
                seq=1,
                received_at=now,
                name="Newchannel",
                headers={"CallerIDNum": E164, "CallerIDName": f"{given_name} Erasmus"},
            )
        )
        recording = Recording(
            call_id=call.id,
            asterisk_path=f"/var/spool/asterisk/monitor/{linkedid}-1.wav",
            status=RecordingStatus.PROCESSED,
            patient_id=patient.id,
            audio_path=None,
            duration_seconds=42.0,
        )
        session.add(recording)
        await session.flush()
        session.add(
            Transcript(
                recording_id=recording.id,
                speaker="caller",
                text=encrypt(SPOKEN),
                words=[{"enc": encrypt('[{"w": "april"}]')}],
                encrypted=True,
            )
        )
        campaign = Campaign(name="survey", kind=CampaignKind.SURVEY)
        session.add(campaign)
        await session.flush()
        attempt = CampaignAttempt(
            campaign_id=campaign.id, patient_id=patient.id, phone_e164=E164, scheduled_for=now
        )
        session.add(attempt)
        await session.flush()
        session.add(
            SurveyAnswer(
                attempt_id=attempt.id, patient_id=patient.id, question_key="q1", answer="5"
            )
        )
        session.add(
            Complaint(
                patient_id=patient.id,
                call_id=call.id,
                category="billing",
                description="charged twice for the visit",
            )
        )
        call_id, recording_id = call.id, recording.id
    await record_audit(
        database,
        Actor.user(1, "nurse"),
        AuditAction.VIEW,
        "patient",
        patient.id,
        patient_id=patient.id,
    )
    return History(patient.id, call_id, linkedid, recording_id, appointment.id)


async def hold(database: Database, recording_id: int) -> None:
    """Put a legal hold on a recording (as an admin would from its page)."""
    async with database.transaction() as session:
        recording = await session.get(Recording, recording_id)
        assert recording is not None
        recording.legal_hold = True
