"""A dialer on the real Asterisk sandbox, with simulated patients as callees.

Each patient's calls go to ``Local/<outcome>@sim-callee`` (answer, busy, noanswer...), chosen
per patient and per try by the test: that is the only thing that differs from production,
where the route is ``Local/<number>@callcenter-outbound-dial``. Everything else is the real
server's: the dialer, its bus consumer, the FastAGI dialogs, the call tracker and the database.
Patients press keys exactly when the dialog waits (``GET DATA``): the patients' phone (the
driver AMI session, tests/support/caller.py) sees ``AGIExecStart`` and plays the next keys of
the patient's script on the ``;2`` half.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from sqlalchemy import select, update

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.agi.server import FastAgiServer
from callcenter.ami.events import AmiEvent, AmiResynced
from callcenter.asterisk import const
from callcenter.ivr import prompts as ivr_prompts
from callcenter.outbound import prompts
from callcenter.outbound.bus_consume import DialerEvents
from callcenter.outbound.channels import DialPlan
from callcenter.outbound.dialer import Dialer, DialerOptions
from callcenter.outbound.dialogs import DialogServices, outbound_call
from callcenter.settings import AgiSettings
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.models import Campaign, CampaignAttempt, CampaignStatus
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.appointments import AppointmentService
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_answers import AnswerService
from hcrm_core.services.campaigns_attempts import AttemptService, DialTarget
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone, Rule
from tests.support.rig import Rig, open_rig

HOSPITAL = "Riverside Hospital"
CALLER_ID = "+12125550100"
ADMIN = Actor("user:admin")
WAIT = 60.0
# Regions whose fixed-line example numbers map to one zone each; the rig picks one where it is
# now daytime, so the patients' own 08:00-21:00 rule lets the test call them.
_REGIONS = ("US", "GB", "JP", "AU", "IN", "BR")


def daytime_region() -> tuple[str, ZoneInfo]:
    """(E.164 example number, its zone) of a region where it is now 10:00-19:00."""
    from phonenumbers import timezone as phone_timezone

    for region in _REGIONS:
        number = phonenumbers.example_number_for_type(
            region, phonenumbers.PhoneNumberType.FIXED_LINE
        )
        assert number is not None
        (zone_name,) = phone_timezone.time_zones_for_number(number)
        zone = ZoneInfo(zone_name)
        if 10 <= datetime.now(UTC).astimezone(zone).hour < 19:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), zone
    raise AssertionError("no daytime region found")  # six regions cover every hour


@dataclass
class Callees:
    """The simulated far end of each patient: outcomes per try, and keys to press."""

    outcomes: dict[int, list[str]] = field(default_factory=dict)
    keys: dict[int, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    hold: str = "60"
    variables: dict[str, str] = field(default_factory=dict)

    def route(self, target: DialTarget) -> DialPlan:
        plan = self.outcomes.get(target.patient_id, ["answer"])
        outcome = plan[min(target.attempt_no, len(plan)) - 1]
        return DialPlan(
            f"Local/{outcome}@{const.CONTEXT_SIM_CALLEE}",
            {"SIM_HOLD": self.hold, "SIM_DELAY": "0", **self.variables},
        )


@dataclass
class OutboundRig:
    rig: Rig
    database: Database
    policy: BookingPolicy
    phone: str
    zone: ZoneInfo
    prefix: str
    callees: Callees
    campaigns: CampaignService
    attempts: AttemptService
    answers: AnswerService
    appointments: AppointmentService
    patients_phone: PatientsPhone
    server: FastAgiServer
    box: AsteriskSandboxHandle
    # AMI events of our calls' ;1 halves, as Asterisk sent them (the test's own view).
    seen: list[AmiEvent] = field(default_factory=list)
    dialers: list[tuple[Dialer, DialerEvents]] = field(default_factory=list)

    @property
    def asked(self) -> list[str]:
        """The prompt of every GET DATA of every call, call by call."""
        return [prompt for caller in self.patients_phone.callers for prompt in caller.asked]

    def options(self) -> DialerOptions:
        return DialerOptions(
            timezone=self.zone,
            hospital_name=HOSPITAL,
            caller_id_number=CALLER_ID,
            channel_prefix=self.prefix,
            tick_seconds=0.05,
            agi_url=f"agi://127.0.0.1:{self.server.port}",
        )

    async def start_dialer(self) -> Dialer:
        dialer = Dialer(
            ami=self.rig.bridge,
            campaigns=self.campaigns,
            attempts=self.attempts,
            options=self.options(),
            route=self.callees.route,
        )
        events = DialerEvents(self.rig.bus, dialer, self.database)
        await events.start()
        await dialer.start()
        self.dialers.append((dialer, events))
        # What the bridge does after every login: the dialer reconciles, then may dial.
        self.rig.bus.publish(AmiResynced(await self.rig.bridge.resync()))
        async with asyncio.timeout(WAIT):
            await dialer.reconciled.wait()
        return dialer

    async def stop_dialer(self, dialer: Dialer) -> None:
        for pair in list(self.dialers):
            if pair[0] is dialer:
                await dialer.stop()
                await pair[1].stop()
                self.dialers.remove(pair)

    async def campaign(self, kind: str, patient_ids: list[int], **settings: Any) -> Campaign:
        values = {
            "window": {"weekdays": list(range(7))},
            "targets": {"patient_ids": patient_ids},
            **settings,
        }
        campaign = await self.campaigns.create(f"{kind} test", kind, values, ADMIN)
        await asyncio.to_thread(self.render_questions, campaign)
        return campaign

    def render_questions(self, campaign: Campaign) -> None:
        build_prompts(
            prompts.campaign_prompts(ivr_prompts.ENGLISH, [campaign]),
            sounds_language_dir(self.box.settings, sandbox=True),
        )

    async def attempts_of(self, campaign_id: int) -> list[CampaignAttempt]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(CampaignAttempt)
                .where(CampaignAttempt.campaign_id == campaign_id)
                .order_by(CampaignAttempt.id)
            )
            return list(rows)

    async def wait_attempts(
        self,
        campaign_id: int,
        done: Any,
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> list[CampaignAttempt]:
        """Poll the database (the dialer's outcome is written there) until ``done(rows)``."""
        async with asyncio.timeout(timeout):
            while True:
                rows = await self.attempts_of(campaign_id)
                if done(rows):
                    return rows
                await asyncio.sleep(0.1)

    async def wait_status(
        self,
        campaign_id: int,
        status: CampaignStatus,
        timeout: float = 20.0,  # noqa: ASYNC109
    ) -> None:
        async with asyncio.timeout(timeout):
            while True:
                if (await self.campaigns.get(campaign_id)).status is status:
                    return
                await asyncio.sleep(0.2)

    async def bring_forward(self, campaign_id: int) -> None:
        """Time passes: retries scheduled for later are due now."""
        async with self.database.transaction() as session:
            await session.execute(
                update(CampaignAttempt)
                .where(CampaignAttempt.campaign_id == campaign_id)
                .values(scheduled_for=datetime.now(UTC))
            )

    def ours(self, event: AmiEvent) -> bool:
        return event.uniqueid.startswith(self.prefix) and not event.uniqueid.endswith("-b")

    async def script_for(self, linkedid: str) -> Rule | None:
        """The keys of the patient the call is an attempt for, in order across their calls."""
        attempt = linkedid[len(self.prefix) :]
        if not attempt.isdigit():
            return None
        async with self.database.session() as session:
            patient_id = await session.scalar(
                select(CampaignAttempt.patient_id).where(CampaignAttempt.id == int(attempt))
            )

        def next_keys(_prompt: str) -> str | None:
            # Read at each question: a test may script the patient while the call rings.
            keys = self.callees.keys.get(patient_id or 0)
            return keys.popleft() if keys else None

        return next_keys


def _render_fixed_prompts(box: AsteriskSandboxHandle) -> None:
    target = sounds_language_dir(box.settings, sandbox=True)
    build_prompts(prompts.catalogue(ivr_prompts.ENGLISH, HOSPITAL), target)
    build_prompts(dict(ivr_prompts.CATALOGUE), target)


@pytest.fixture
async def outbound(
    database: Database, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[OutboundRig]:
    phone, zone = daytime_region()
    policy = BookingPolicy(timezone=zone)
    await asyncio.to_thread(_render_fixed_prompts, asterisk_sandbox)
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    rig = await open_rig(database, asterisk_sandbox, campaign_prefix=prefix)
    attempts = AttemptService(database)
    appointments = AppointmentService(database, policy)
    answers = AnswerService(database)
    services = DialogServices(
        attempts=attempts,
        answers=answers,
        appointments=appointments,
        bus=rig.bus,  # as in production: the dialog's steps reach the call log
        timezone=str(zone),
        channel_prefix=prefix,
    )

    async def survey(agi: Any) -> None:
        await outbound_call(agi, services=services)

    # Stopping this server stands for the server going away (a crash): dialogs are cut, not
    # drained (tests/integration/callcenter/ivr/test_agi_drain_asterisk.py covers a graceful stop).
    server = FastAgiServer(AgiSettings(port=0, drain_seconds=0), {const.AGI_ROUTE_SURVEY: survey})
    await server.start()
    out = OutboundRig(
        rig=rig,
        database=database,
        policy=policy,
        phone=phone,
        zone=zone,
        prefix=prefix,
        callees=Callees(),
        campaigns=CampaignService(database, policy),
        attempts=attempts,
        answers=answers,
        appointments=appointments,
        patients_phone=patients_phone,
        server=server,
        box=asterisk_sandbox,
    )

    async def record(event: AmiEvent) -> None:
        out.seen.append(event)

    rig.bus.subscribe(
        AmiEvent,
        record,
        name="test-outbound-events",
        predicate=lambda e: e.name in ("Newchannel", "Hangup") and out.ours(e),
    )
    patients_phone.answer_calls(prefix, out.script_for)
    try:
        await rig.bridge.wait_ready(20)
        yield out
    finally:
        for dialer, events in list(out.dialers):
            await dialer.stop()
            await events.stop()
        # Calls still up (a failed test) are hung up: they are ours alone.
        for channel in await rig.bridge.core_show_channels():
            if channel.uniqueid.startswith(prefix):
                await rig.bridge.send_action({"Action": "Hangup", "Channel": channel.channel})
        await server.stop()
        await rig.stop()
