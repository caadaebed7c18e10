"""Continuous enrolment on the real Asterisk: a reminder campaign already running takes in an
appointment booked after its start and reminds the patient; one cancelled before its turn is
withdrawn and never dialled (checked in Asterisk's own events)."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.calls.channel_ids import channel_id
from callcenter.outbound.enrolment import EnrolmentLoop
from hcrm_core.actors import Actor
from hcrm_core.models import AttemptStatus, CampaignAttempt, Channel
from hcrm_core.services.appointments import BookingRequest
from hcrm_core.services.campaigns_enrolment import WITHDRAWN, EnrolmentService
from tests.integration.callcenter.outbound.conftest import OutboundRig
from tests.support.factories import make_hospital, make_patient

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.parametrize("database", ["sqlite"], indirect=True),
]


async def test_a_booking_after_the_start_is_reminded_and_a_cancelled_one_never(
    outbound: OutboundRig,
) -> None:
    out = outbound
    hospital = await make_hospital(out.database, out.policy, days=10)
    keeps, cancels = [
        (await make_patient(out.database, out.policy, phones=(out.phone,))).id for _ in range(2)
    ]
    out.callees.keys[keeps].append("1")
    campaign = await out.campaign("reminder", [keeps, cancels])
    assert await out.campaigns.start(campaign.id, Actor.system()) == 0  # nothing booked yet
    loop = EnrolmentLoop(EnrolmentService(out.database, out.policy), 0.2)
    await loop.start()
    try:
        slots = await hospital.free_slots(department_id=hospital.cardiology.id, limit=4)
        booked = {}
        for patient_id, slot in ((keeps, slots[-1]), (cancels, slots[-2])):
            booked[patient_id] = await out.appointments.book(
                BookingRequest(patient_id, slot.slot_id, Channel.AGENT, Actor.system())
            )
        await out.wait_attempts(campaign.id, lambda rows: len(rows) == 2)
        await out.appointments.cancel(
            booked[cancels].id, actor=Actor.system(), channel=Channel.AGENT, enforce_cutoff=False
        )

        def withdrawn(rows: list[CampaignAttempt]) -> bool:
            return any(r.outcome_detail == WITHDRAWN for r in rows)

        await out.wait_attempts(campaign.id, withdrawn)
    finally:
        await loop.stop()
    await out.bring_forward(campaign.id)  # the day before is now
    await out.start_dialer()
    rows = await out.wait_attempts(
        campaign.id, lambda rows: any(r.status is AttemptStatus.COMPLETED for r in rows)
    )
    by_patient = {r.patient_id: r for r in rows}
    assert len(rows) == 2
    assert (by_patient[keeps].appointment_id, by_patient[keeps].outcome_detail) == (
        booked[keeps].id,
        "confirmed",
    )
    gone = by_patient[cancels]
    assert (gone.status, gone.dialled_at) == (AttemptStatus.CANCELLED, None)
    await asyncio.sleep(0.5)  # any late channel of the withdrawn reminder would show by now
    assert not [e for e in out.seen if e.uniqueid == channel_id(out.prefix, gone.id)]
    assert [e for e in out.seen if e.uniqueid == channel_id(out.prefix, by_patient[keeps].id)]
