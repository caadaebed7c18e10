"""The real server mid-campaign: SIGKILLed and started again, or cut off from Asterisk's AMI;
either way it dials nobody twice and finishes the campaign.

Checked from Asterisk's own AMI events (a separate driver session counts each attempt's
channels) and from the database; the server is ``callcenter serve`` as a subprocess. Asterisk
itself is never stopped (it is shared): the lost link is a TCP proxy the test cuts.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.agi.prompt_audio import build_prompts, sounds_language_dir
from callcenter.ivr import prompts as ivr_prompts
from callcenter.outbound import prompts
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.models import AttemptStatus, Campaign, CampaignAttempt, CampaignStatus
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.campaigns import CampaignService
from hcrm_core.services.campaigns_attempts import IN_FLIGHT, AttemptService
from tests.integration.callcenter.outbound.conftest import (
    ADMIN,
    _render_fixed_prompts,
    daytime_region,
)
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.factories import make_patient
from tests.support.outbound_server import (
    AmiLink,
    CallWatch,
    ServerProcess,
    server_env,
)

pytestmark = pytest.mark.asterisk

PATIENTS = 8
NO_RETRY = {"retry_delay_minutes": 60, "max_attempts": 1}


@dataclass
class Site:
    database: Database
    zone: ZoneInfo
    phone: str
    prefix: str
    env: dict[str, str]
    tmp: Path
    watch: CallWatch

    def server(self, name: str) -> ServerProcess:
        return ServerProcess(self.env, self.tmp / f"{name}.log")

    async def attempts(self, campaign_id: int) -> list[CampaignAttempt]:
        async with self.database.session() as session:
            rows = await session.scalars(
                select(CampaignAttempt).where(CampaignAttempt.campaign_id == campaign_id)
            )
            return list(rows)

    async def wait_status(self, campaign_id: int, status: CampaignStatus, timeout: float) -> None:  # noqa: ASYNC109
        campaigns = CampaignService(self.database, BookingPolicy(timezone=self.zone))
        async with asyncio.timeout(timeout):
            while True:
                if (await campaigns.get(campaign_id)).status is status:
                    return
                await asyncio.sleep(0.2)


@pytest.fixture
async def site(
    tmp_path: Path, asterisk_sandbox: AsteriskSandboxHandle, patients_phone: PatientsPhone
) -> AsyncIterator[Site]:
    phone, zone = daytime_region()
    await asyncio.to_thread(_render_fixed_prompts, asterisk_sandbox)
    url = f"sqlite+aiosqlite:///{tmp_path / 'site.sqlite3'}"
    await upgrade_async(url)
    database = Database(url)
    prefix = f"k{uuid.uuid4().hex[:10]}-"
    watch = CallWatch(patients_phone, prefix)
    await watch.start()
    env = server_env(asterisk_sandbox, tmp_path / "data", url, zone, prefix)
    try:
        yield Site(database, zone, phone, prefix, env, tmp_path, watch)
    finally:
        await watch.stop()
        await database.dispose()


async def _survey(site: Site, box: AsteriskSandboxHandle) -> Campaign:
    policy = BookingPolicy(timezone=site.zone)
    ids = [
        (await make_patient(site.database, policy, phones=(site.phone,))).id
        for _ in range(PATIENTS)
    ]
    campaigns = CampaignService(site.database, policy)
    settings = {
        "window": {"weekdays": list(range(7))},
        "targets": {"patient_ids": ids},
        "max_concurrent": 4,
        "calls_per_second": 2.0,
        "retries": {k: NO_RETRY for k in ("busy", "no_answer", "failed", "machine")},
    }
    campaign = await campaigns.create("killed mid-campaign", "survey", settings, ADMIN)
    await asyncio.to_thread(
        build_prompts,
        prompts.campaign_prompts(ivr_prompts.ENGLISH, [campaign]),
        sounds_language_dir(box.settings, sandbox=True),
    )
    assert await campaigns.start(campaign.id, Actor.system()) == PATIENTS
    return campaign


async def test_server_killed_mid_campaign_dials_nobody_twice(
    site: Site, asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    campaign = await _survey(site, asterisk_sandbox)
    watch = site.watch
    first = site.server("first")
    first.start()
    try:
        # Killed with calls in every state: one answered (in its dialog), one still ringing.
        await watch.wait_for(
            lambda: watch.up and watch.ringing, timeout=60, what="one call up, another ringing"
        )
    finally:
        first.kill()
    in_flight = {a.attempt_id for a in await AttemptService(site.database).in_flight()}
    assert in_flight, "no call was in flight when the server was killed"
    dialled_before = set(watch.placed)

    second = site.server("second")
    second.start()
    try:
        await site.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout=120)
    finally:
        code = second.terminate()
    log = second.log()
    assert code == 0, log[-3000:]

    rows = await site.attempts(campaign.id)
    # One attempt per patient (no retries in this campaign), each dialled exactly once, as
    # Asterisk reports it: no ChannelId was ever originated twice, before or after the kill.
    assert len(rows) == PATIENTS
    assert watch.placed == {r.id: 1 for r in rows}, watch.placed
    assert len({r.patient_id for r in rows}) == PATIENTS
    assert dialled_before < set(watch.placed)  # the second run dialled the rest
    # Every call in flight at the kill was adopted (still live) or settled from the call log
    # by the second run, which never originated it again.
    for attempt_id in in_flight:
        assert re.search(rf"attempt={attempt_id} (adopted|settled by reconcile)", log), attempt_id
        assert f"attempt={attempt_id} campaign={campaign.id} try=1 dialled" not in log
    assert all(r.status not in (*IN_FLIGHT, AttemptStatus.SCHEDULED) for r in rows)
    assert all(r.ended_at is not None for r in rows)
    assert any(r.status is AttemptStatus.COMPLETED for r in rows)
    # Asterisk has no call of this campaign left.
    assert watch.gone >= set(watch.placed)


async def test_ami_link_lost_mid_campaign(
    site: Site, asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    link = AmiLink(asterisk_sandbox.ami_host, asterisk_sandbox.ami_port)
    await link.open()
    site.env.update(
        {
            "CALLCENTER_AMI__PORT": str(link.port),
            "CALLCENTER_AMI__RECONNECT_MIN": "0.2",
            "CALLCENTER_AMI__RECONNECT_MAX": "1",
        }
    )
    campaign = await _survey(site, asterisk_sandbox)
    watch = site.watch
    server = site.server("server")
    server.start()
    try:
        await watch.wait_for(
            lambda: watch.up and watch.ringing, timeout=60, what="one call up, another ringing"
        )
        await link.cut()
        ringing = set(watch.ringing)
        # Cut off, the server misses what happens next: a ringing call answers or ends.
        await watch.wait_for(
            lambda: not ringing <= watch.ringing,
            timeout=30,
            what=f"one of the ringing calls {sorted(ringing)} to answer or end",
        )
        await link.open()
        await site.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout=120)
    finally:
        code = server.terminate()
        await link.cut()
    log = server.log()
    assert code == 0, log[-3000:]
    assert link.connections >= 2, "the server never logged in again"
    rows = await site.attempts(campaign.id)
    assert len(rows) == PATIENTS
    assert watch.placed == {r.id: 1 for r in rows}, watch.placed
    assert all(r.status not in (*IN_FLIGHT, AttemptStatus.SCHEDULED) for r in rows)
    # Every patient answered (some while the link was down, their answer lost with it): each
    # attempt is known as answered and completed, none retried or failed.
    assert watch.up == {r.id for r in rows}
    assert {(r.status, r.outcome_detail) for r in rows} == {(AttemptStatus.COMPLETED, "answered")}
    assert watch.gone >= set(watch.placed)
