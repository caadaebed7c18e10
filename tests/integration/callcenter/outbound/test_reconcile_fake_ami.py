"""The dialer's reconcile after a crash, against the fake AMI (no root, no PBX).

A previous run left five attempts ``dialling`` and died. The new dialer logs in; the fake AMI
answers ``CoreShowChannels`` with rows shaped as Asterisk 22 sends them: two attempts' Local
channels are still there (one answered, one still ringing), three are gone (one the call log
never saw, one it saw answered, one it saw unanswered). Reconcile runs on the bridge's
``AmiResynced``, as in production (the dialer's bus consumer).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.ami.bridge import AmiBridge
from callcenter.bus import EventBus
from callcenter.calls.channel_ids import channel_id, other_channel_id
from callcenter.outbound.bus_consume import DialerEvents
from callcenter.outbound.channels import DialPlan
from callcenter.outbound.dialer import Dialer, DialerOptions
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import AttemptStatus, Call, CallDirection, CampaignAttempt
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_attempts import AttemptService, DialTarget
from tests.support.factories import make_patient
from tests.support.fake_ami import FakeAmi, ami_settings, event

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
PREFIX = "attempt-"
ZONE = ZoneInfo("America/New_York")
WAIT = 5.0
NO_RETRY = {"retry_delay_minutes": 60, "max_attempts": 1}
STATE_UP, STATE_RINGING = "6", "5"


def channel_rows(attempt_id: int, state: str) -> list[dict[str, str]]:
    """The Local pair of a campaign call as CoreShowChannels lists it (Asterisk 22)."""
    cid = channel_id(PREFIX, attempt_id)
    common = {
        "ChannelState": state,
        "ChannelStateDesc": "Up" if state == STATE_UP else "Ringing",
        "CallerIDNum": "+12125550100",
        "CallerIDName": "Riverside Hospital",
        "Language": "en",
        "AccountCode": "",
        "Priority": "1",
        "Linkedid": cid,
        "Duration": "00:00:41",
        "BridgeId": "",
    }
    return [
        {
            "Channel": f"Local/answer@sim-callee-0000002{attempt_id % 10};1",
            "Uniqueid": cid,
            "Context": "sim-callee",
            "Exten": "answer",
            "Application": "AGI",
            "ApplicationData": "agi://127.0.0.1:4573/survey",
            **common,
        },
        {
            "Channel": f"Local/answer@sim-callee-0000002{attempt_id % 10};2",
            "Uniqueid": other_channel_id(PREFIX, attempt_id),
            "Context": "sim-callee",
            "Exten": "answer",
            "Application": "Wait",
            "ApplicationData": "60",
            **common,
        },
    ]


@dataclass
class Crashed:
    """What the previous run left behind: attempts by role."""

    database: Database
    attempts: AttemptService
    campaigns: CampaignService
    up: int
    ringing: int
    unlogged: int
    logged_answered: int
    logged_unanswered: int

    @property
    def all(self) -> list[int]:
        return [
            self.up,
            self.ringing,
            self.unlogged,
            self.logged_answered,
            self.logged_unanswered,
        ]

    async def row(self, attempt_id: int) -> CampaignAttempt:
        async with self.database.session() as session:
            row = await session.get(CampaignAttempt, attempt_id)
            assert row is not None
            return row

    async def wait_status(self, attempt_id: int, status: AttemptStatus) -> CampaignAttempt:
        """Poll the attempt (the dialer writes its outcome to the database) until it has
        ``status``."""
        async with asyncio.timeout(WAIT):
            while (row := await self.row(attempt_id)).status is not status:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return row


@pytest.fixture
async def crashed(database: Database) -> Crashed:
    """Five attempts claimed (``dialling``) by a run that then died; two calls in the log."""
    policy = BookingPolicy(timezone=ZONE)
    patients = [
        (await make_patient(database, policy, phones=(f"+1212555017{n}",))).id for n in range(5)
    ]
    campaigns = CampaignService(database, policy)
    campaign = await campaigns.create(
        "crashed survey",
        "survey",
        {
            "window": {"weekdays": list(range(7))},
            "targets": {"patient_ids": patients},
            "retries": {k: NO_RETRY for k in ("busy", "no_answer", "failed", "machine")},
        },
        Actor("user:admin"),
    )
    assert await campaigns.start(campaign.id, Actor.system()) == 5
    attempts = AttemptService(database)
    now = datetime.now(UTC)
    async with database.session() as session:
        ids = list(
            await session.scalars(
                select(CampaignAttempt.id)
                .where(CampaignAttempt.campaign_id == campaign.id)
                .order_by(CampaignAttempt.id)
            )
        )
    for attempt_id in ids:
        await attempts.claim(attempt_id, now=now, day_start=now - timedelta(hours=1), max_per_day=5)
    crashed = Crashed(database, attempts, campaigns, *ids)
    async with database.transaction() as session:
        for attempt_id, answered in (
            (crashed.logged_answered, True),
            (crashed.logged_unanswered, False),
        ):
            session.add(
                Call(
                    linkedid=channel_id(PREFIX, attempt_id),
                    direction=CallDirection.OUTBOUND,
                    started_at=now - timedelta(minutes=2),
                    answered_at=now - timedelta(minutes=1) if answered else None,
                    ended_at=now - timedelta(seconds=30),
                )
            )
    return crashed


@dataclass
class Restarted:
    fake: FakeAmi
    bus: EventBus
    bridge: AmiBridge
    dialer: Dialer


@pytest.fixture
async def restarted(crashed: Crashed) -> AsyncIterator[Restarted]:
    """A new dialer logging in to the fake AMI, which still has the two live calls."""
    fake = FakeAmi()
    fake.channels = channel_rows(crashed.up, STATE_UP) + channel_rows(
        crashed.ringing, STATE_RINGING
    )
    await fake.start()
    bus = EventBus()
    bridge = AmiBridge(ami_settings(fake.port), bus)

    def route(target: DialTarget) -> DialPlan:
        return DialPlan(f"Local/{target.phone}@sim-callee", {})

    dialer = Dialer(
        ami=bridge,
        campaigns=crashed.campaigns,
        attempts=crashed.attempts,
        options=DialerOptions(
            timezone=ZONE,
            hospital_name="Riverside Hospital",
            caller_id_number="+12125550100",
            channel_prefix=PREFIX,
        ),
        route=route,
    )
    events = DialerEvents(bus, dialer, crashed.database)
    await events.start()  # before the bridge connects: its first AmiResynced is not missed
    await bridge.start()
    try:
        async with asyncio.timeout(WAIT):
            await dialer.reconciled.wait()
        yield Restarted(fake, bus, bridge, dialer)
    finally:
        await bridge.stop()
        await events.stop()
        await bus.close()
        await fake.stop()


async def test_live_calls_are_adopted_and_gone_ones_settled_from_the_call_log(
    crashed: Crashed, restarted: Restarted
) -> None:
    live = restarted.dialer.live
    # Still in Asterisk: followed, not settled. The answered one is marked answered now
    # (its OriginateResponse went to the dead run's session).
    assert crashed.up in live and crashed.ringing in live
    assert live.get(crashed.up).adopted and live.get(crashed.up).answered  # type: ignore[union-attr]
    assert not live.get(crashed.ringing).answered  # type: ignore[union-attr]
    assert (await crashed.row(crashed.up)).status is AttemptStatus.ANSWERED
    assert (await crashed.row(crashed.ringing)).status is AttemptStatus.DIALLING
    # Gone: the call log says what became of each.
    gone = {
        crashed.unlogged: (AttemptStatus.FAILED, "not_in_call_log"),
        crashed.logged_answered: (AttemptStatus.COMPLETED, "ended_while_away"),
        crashed.logged_unanswered: (AttemptStatus.NO_ANSWER, "ended_while_away"),
    }
    for attempt_id, (status, detail) in gone.items():
        row = await crashed.row(attempt_id)
        assert (row.status, row.outcome_detail) == (status, detail), attempt_id
        assert attempt_id not in live


async def test_adopted_calls_are_followed_to_their_end(
    crashed: Crashed, restarted: Restarted
) -> None:
    # The answered call's Hangup ends it as completed; the ringing one's busy cause (17)
    # is all there is to say what happened to it.
    for attempt_id, cause in ((crashed.up, "16"), (crashed.ringing, "17")):
        cid = channel_id(PREFIX, attempt_id)
        restarted.fake.push(
            event(
                "Hangup",
                Privilege="call,all",
                Channel=f"Local/answer@sim-callee-0000002{attempt_id % 10};1",
                Uniqueid=cid,
                Linkedid=cid,
                Cause=cause,
                **{"Cause-txt": "Normal Clearing" if cause == "16" else "User busy"},
            )
        )
    answered = await crashed.wait_status(crashed.up, AttemptStatus.COMPLETED)
    assert answered.outcome_detail == "hung_up"
    busy = await crashed.wait_status(crashed.ringing, AttemptStatus.BUSY)
    assert busy.outcome_detail == "busy"
    assert list(restarted.dialer.live) == []


async def test_nobody_is_dialled_twice(crashed: Crashed, restarted: Restarted) -> None:
    # Ticks after the reconcile: the campaign is still running, yet no attempt is due again.
    for _ in range(3):
        await restarted.dialer.tick()
    assert restarted.fake.actions("originate") == []
    assert restarted.dialer.originated == 0
    statuses = {a: (await crashed.row(a)).status for a in crashed.all}
    assert AttemptStatus.SCHEDULED not in statuses.values()
