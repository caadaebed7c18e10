"""Two real ``callcenter serve`` processes on one PostgreSQL, a campaign running, the leader
``kill -9``ed mid-campaign: the other leads within 5 s and finishes the campaign; no attempt
is dialled twice and no call row is missing or doubled.

The processes are subprocesses dialling the shared sandbox (tests/support/outbound_server.py);
what was dialled is counted from Asterisk's own events (each attempt's ChannelId is the attempt
id), on the patients' phone's AMI session, not from either server's word.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.calls.channel_ids import channel_id
from hcrm_core.db import Database
from hcrm_core.models import AttemptStatus, Call, CallEvent, CampaignStatus
from hcrm_core.services.campaigns_attempts import IN_FLIGHT, AttemptService
from tests.integration.callcenter.outbound.conftest import _render_fixed_prompts, daytime_region
from tests.integration.callcenter.outbound.test_server_faults import Site, _survey
from tests.support.asterisk_sandbox import AsteriskSandboxHandle
from tests.support.caller import PatientsPhone
from tests.support.outbound_server import CallWatch, ServerProcess, server_env

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
TAKEOVER = 5.0  # the bound


@pytest.fixture
async def site(
    tmp_path: Path,
    asterisk_sandbox: AsteriskSandboxHandle,
    patients_phone: PatientsPhone,
    database: Database,
) -> AsyncIterator[Site]:
    phone, zone = daytime_region()
    await asyncio.to_thread(_render_fixed_prompts, asterisk_sandbox)
    prefix = f"l{uuid.uuid4().hex[:10]}-"
    watch = CallWatch(patients_phone, prefix)
    await watch.start()
    env = server_env(asterisk_sandbox, tmp_path / "data", database.url, zone, prefix)
    try:
        yield Site(database, zone, phone, prefix, env, tmp_path, watch)
    finally:
        await watch.stop()


def node(site: Site, box: AsteriskSandboxHandle, name: str) -> tuple[ServerProcess, int]:
    """One server process with its own ports and data directory, on the site's database."""
    url = site.env["CALLCENTER_DATABASE__URL"]
    env = server_env(box, site.tmp / f"data-{name}", url, site.zone, site.prefix)
    return ServerProcess(env, site.tmp / f"{name}.log"), int(env["CALLCENTER_WEB__PORT"])


def _healthz(port: int) -> dict[str, object] | str:
    """The /healthz body of the process on ``port``, or why there is none."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
            body = json.loads(reply.read())
    except OSError as error:
        return f"/healthz unreachable: {error}"
    return body if isinstance(body, dict) else f"/healthz said {body!r}"


async def _cluster_state(
    server: ServerProcess,
    port: int,
    within: float,
    what: str,
    wanted: str,
    accept: Callable[[dict[str, object]], bool],
) -> dict[str, object]:
    """The cluster state the process on ``port`` shows on /healthz, once ``accept`` takes it;
    after ``within`` s a failure naming ``what`` was not ``wanted``, with the last answer."""
    seen: dict[str, object] | str = "nothing yet"
    try:
        async with asyncio.timeout(within):
            while True:
                assert server.process is not None
                if server.process.poll() is not None:
                    raise AssertionError(f"{what} exited: {server.log()[-2000:]}")
                seen = await asyncio.to_thread(_healthz, port)
                cluster = seen.get("cluster") if isinstance(seen, dict) else None
                if isinstance(cluster, dict) and accept(cluster):
                    return cluster
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what}: not {wanted} within {within} s; last seen: {seen}") from None


async def leading(
    server: ServerProcess, port: int, within: float, what: str, *, leader: bool = True
) -> dict[str, object]:
    """Wait until the process on ``port`` says on /healthz that it leads (or follows)."""
    wanted = "leading" if leader else "following"
    return await _cluster_state(
        server, port, within, what, wanted, lambda cluster: cluster.get("leader") is leader
    )


async def settled(server: ServerProcess, port: int, within: float = 30) -> dict[str, object]:
    """The process's leadership once it serves /healthz and the election has had a round."""
    what = f"the process on port {port}"
    return await _cluster_state(
        server, port, within, what, "showing a cluster state on /healthz", lambda _: True
    )


async def test_leader_killed_mid_campaign_another_leads_and_dials_nobody_twice(
    site: Site, asterisk_sandbox: AsteriskSandboxHandle
) -> None:
    campaign = await _survey(site, asterisk_sandbox)
    watch = site.watch
    started = time.monotonic()
    nodes = [node(site, asterisk_sandbox, name) for name in ("a", "b")]
    for server, _port in nodes:
        server.start()
    try:
        # Both start at once: exactly one leads, and that one is killed.
        states = await asyncio.gather(*(settled(server, port) for server, port in nodes))
        assert sorted(bool(state["leader"]) for state in states) == [False, True], states
        (leader, _), (survivor, survivor_port) = nodes if states[0]["leader"] else nodes[::-1]
        first = states[0] if states[0]["leader"] else states[1]
        await watch.wait_for(
            lambda: watch.up and watch.ringing, timeout=40, what="one call up, another ringing"
        )
    except BaseException:
        for server, _port in nodes:
            server.kill()
        raise
    leader.kill()
    killed_at = time.monotonic()
    in_flight = {a.attempt_id for a in await AttemptService(site.database).in_flight()}
    try:
        second = await leading(survivor, survivor_port, TAKEOVER, "the surviving process")
        took = time.monotonic() - killed_at
        assert second["epoch"] == first["epoch"] + 1  # type: ignore[operator]
        await site.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout=60)
    finally:
        code = survivor.terminate()
    log = survivor.log()
    assert code == 0, log[-3000:]
    assert "leader elected" in log, log[-3000:]
    # What the killed leader had in flight, the new one adopted (still live) or settled;
    # it originated none of them again.
    for attempt_id in in_flight:
        assert re.search(rf"attempt={attempt_id} (adopted|settled by reconcile)", log), attempt_id
        assert f"attempt={attempt_id} campaign={campaign.id} try=1 dialled" not in log

    rows = await site.attempts(campaign.id)
    # Each attempt dialled exactly once, as Asterisk reports it, before and after the kill.
    assert watch.placed == {r.id: 1 for r in rows}, watch.placed
    assert all(r.status not in (*IN_FLIGHT, AttemptStatus.SCHEDULED) for r in rows)
    await _one_call_row_each(site.database, site.prefix, [r.id for r in rows])
    print(f"takeover after kill -9: {took:.2f} s; test {time.monotonic() - started:.1f} s")


async def _one_call_row_each(database: Database, prefix: str, attempt_ids: list[int]) -> None:
    """Every attempt's call has one row, ended, and its channel's events are stored once
    though both processes wrote them."""
    ids = [channel_id(prefix, attempt) for attempt in attempt_ids]
    async with database.session() as session:
        calls = dict(
            (
                await session.execute(
                    select(Call.linkedid, Call.ended_at).where(Call.linkedid.in_(ids))
                )
            ).all()
        )
        # The attempt's own channel (the ;1 half: Uniqueid = ChannelId) began once.
        began = dict(
            (
                await session.execute(
                    select(CallEvent.linkedid, func.count())
                    .where(
                        CallEvent.linkedid.in_(ids),
                        CallEvent.name == "Newchannel",
                        CallEvent.headers["Uniqueid"].as_string() == CallEvent.linkedid,
                    )
                    .group_by(CallEvent.linkedid)
                )
            ).all()
        )
    assert set(calls) == set(ids), set(ids) - set(calls)
    assert all(ended is not None for ended in calls.values()), calls
    # Stored once, though both processes' call logs wrote it.
    assert began == dict.fromkeys(ids, 1), began
