"""Do-not-call, no consent and opt-out on a real run: checked from Asterisk's AMI events (the
channels that were really created), not only from the target selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from callcenter.calls.channel_ids import channel_id
from hcrm_core.actors import Actor
from hcrm_core.models import AttemptStatus, CampaignAttempt, CampaignStatus, Patient
from hcrm_core.services.campaigns_attempts import IN_FLIGHT
from tests.integration.callcenter.outbound.conftest import OutboundRig
from tests.integration.callcenter.outbound.test_dialer_asterisk import SQLITE_ONLY, patient_ids

pytestmark = [pytest.mark.asterisk, SQLITE_ONLY]


def settled(rows: list[CampaignAttempt]) -> bool:
    """Every attempt has its outcome (a cancelled one never had a call to end)."""
    return bool(rows) and all(r.status not in (*IN_FLIGHT, AttemptStatus.SCHEDULED) for r in rows)


async def _set_patient(out: OutboundRig, patient_id: int, **values: bool) -> None:
    async with out.database.transaction() as session:
        await session.execute(update(Patient).where(Patient.id == patient_id).values(**values))


async def _dialled_patients(out: OutboundRig, campaign_ids: list[int]) -> list[int]:
    """The patients whose calls Asterisk created (one entry per channel)."""
    attempts = {}
    for campaign_id in campaign_ids:
        attempts.update(
            {channel_id(out.prefix, a.id): a for a in await out.attempts_of(campaign_id)}
        )
    placed = [e.uniqueid for e in out.seen if e.name == "Newchannel"]
    assert set(placed) <= set(attempts), "a channel of no attempt of these campaigns"
    return sorted(attempts[uniqueid].patient_id for uniqueid in placed)


async def test_do_not_call_no_consent_and_opted_out_patients_are_never_dialled(
    outbound: OutboundRig,
) -> None:
    out = outbound
    ok, dnc, no_consent, dnc_later, opts_out, other = await patient_ids(out, 6)
    await _set_patient(out, dnc, do_not_call=True)
    await _set_patient(out, no_consent, consent_call=False)
    for patient_id in (ok, other):
        out.callees.keys[patient_id].extend(["1", "8"])  # answers, NPS 8
    out.callees.keys[opts_out].append("9")  # "press 9 to stop these calls"
    first = await out.campaign("survey", [ok, dnc, no_consent, dnc_later, opts_out])
    second = await out.campaign("survey", [opts_out, other, dnc])
    # Selection already leaves out the do-not-call and no-consent patients...
    assert await out.campaigns.start(first.id, Actor.system()) == 3
    assert await out.campaigns.start(second.id, Actor.system()) == 2
    # ...and one asks not to be called after it: the dialer must see it when it dials.
    await _set_patient(out, dnc_later, do_not_call=True)
    # The second campaign's calls are queued for later: due only after the opt-out.
    later = datetime.now(UTC) + timedelta(hours=1)
    async with out.database.transaction() as session:
        await session.execute(
            update(CampaignAttempt)
            .where(CampaignAttempt.campaign_id == second.id)
            .values(scheduled_for=later)
        )
    await out.start_dialer()
    rows = await out.wait_attempts(first.id, settled)
    by_patient = {r.patient_id: r for r in rows}
    assert by_patient[opts_out].outcome_detail == "opted_out"
    assert (by_patient[dnc_later].status, by_patient[dnc_later].outcome_detail) == (
        AttemptStatus.CANCELLED,
        "do_not_call",
    )
    assert by_patient[ok].status is AttemptStatus.COMPLETED
    # The opted-out patient's queued call in the other campaign was cancelled at once.
    queued = {r.patient_id: r for r in await out.attempts_of(second.id)}
    assert (queued[opts_out].status, queued[opts_out].outcome_detail) == (
        AttemptStatus.CANCELLED,
        "opted_out",
    )
    # Time passes: the second campaign's calls fall due; only the other patient is called.
    await out.bring_forward(second.id)
    await out.wait_attempts(second.id, settled)
    await out.wait_status(second.id, CampaignStatus.COMPLETED)
    for dialer, _events in out.dialers:
        await dialer.tick()  # more ticks: still nobody else
    # Asterisk's own account: exactly these calls were created.
    assert await _dialled_patients(out, [first.id, second.id]) == sorted([ok, opts_out, other])
