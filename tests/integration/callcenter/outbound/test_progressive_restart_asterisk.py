"""Progressive mode keeps its abandon rate across a restart: a new dialer reads it from the
stored attempts, and throttles to one call at a time (checked from Asterisk's AMI events)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from callcenter.ami.events import AmiEvent
from callcenter.asterisk import const
from hcrm_core.actors import Actor
from hcrm_core.models import AttemptStatus, CampaignAttempt
from hcrm_core.services.campaigns_attempts import ABANDONED
from tests.integration.callcenter.outbound.conftest import OutboundRig
from tests.integration.callcenter.outbound.test_dialer_asterisk import (
    SQLITE_ONLY,
    _concurrency,
    ended,
    patient_ids,
)

pytestmark = [pytest.mark.asterisk, SQLITE_ONLY]
QUEUE = "appointments"
_WATCHED = frozenset({"Newchannel", "AgentConnect", "Hangup"})


def _most_unattended(events: list[AmiEvent], prefix: str) -> int:
    """Most calls up at once that had not reached an agent yet (from Asterisk's events)."""
    unattended: set[str] = set()
    most = 0
    for event in events:
        call = event.linkedid
        if event.name == "Newchannel" and event.uniqueid == call:
            unattended.add(call)
        elif event.name == "AgentConnect" or (event.name == "Hangup" and event.uniqueid == call):
            unattended.discard(call)
        most = max(most, len(unattended))
    return most


async def _previous_run(out: OutboundRig, attempt_ids: list[int], details: list[str]) -> None:
    """What an earlier run of the server left: answered calls, some of them abandoned."""
    async with out.database.transaction() as session:
        for attempt_id, detail in zip(attempt_ids, details, strict=True):
            await session.execute(
                update(CampaignAttempt)
                .where(CampaignAttempt.id == attempt_id)
                .values(
                    status=AttemptStatus.COMPLETED,
                    outcome_detail=detail,
                    dialled_at=datetime.now(UTC),
                    ended_at=datetime.now(UTC),
                )
            )


async def test_abandon_rate_survives_a_restart(outbound: OutboundRig) -> None:
    out = outbound
    ids = await patient_ids(out, 5)
    out.callees.variables = {"__SIM_AGENT_RING": "2", "__SIM_AGENT_TALK": "1"}
    out.callees.hold = "30"
    base = random.randint(100, 996)
    interfaces = [f"Local/1{base + n}@{const.CONTEXT_SIM_AGENTS}" for n in range(3)]
    bridge = out.rig.bridge
    events: list[AmiEvent] = []

    async def record(event: AmiEvent) -> None:
        events.append(event)

    out.rig.bus.subscribe(
        AmiEvent,
        record,
        name="test-progressive",
        predicate=lambda e: e.name in _WATCHED and e.linkedid.startswith(out.prefix),
    )
    for interface in interfaces:
        await bridge.send_action({"Action": "QueueAdd", "Queue": QUEUE, "Interface": interface})
    try:
        campaign = await out.campaign(
            "survey",
            ids,
            mode="progressive",
            agent_queue=QUEUE,
            max_concurrent=5,
            calls_per_second=10.0,
        )
        await out.campaigns.start(campaign.id, Actor.system())
        first_two = [r.id for r in (await out.attempts_of(campaign.id))[:2]]
        # One of two answered calls abandoned: 50%, far above the 3% allowed.
        await _previous_run(out, first_two, ["agent", ABANDONED])
        assert await out.attempts.abandon_counts(campaign.id) == (2, 1)
        await out.start_dialer()  # a fresh dialer, as after a restart
        rows = await out.wait_attempts(campaign.id, lambda rs: ended(rs), timeout=90)
    finally:
        for interface in interfaces:
            await bridge.send_action(
                {"Action": "QueueRemove", "Queue": QUEUE, "Interface": interface}
            )
    placed = [r for r in rows if r.id not in first_two]
    assert [(r.status, r.outcome_detail) for r in placed] == [
        (AttemptStatus.COMPLETED, "agent")
    ] * 3
    # Three free agents of ours, yet never a second call while one is ringing or waiting for
    # an agent (the abandon risk): the stored rate holds. Without it, three would ring at once.
    _highest, starts = _concurrency(out)
    assert len(starts) == 3
    assert _most_unattended(events, out.prefix) == 1
