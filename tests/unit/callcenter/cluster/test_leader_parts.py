"""The leader's parts and its fence, without a database: SQLite's single process leads at
once; parts start in order and stop in reverse; the lease runs out on a clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from callcenter.cluster.leader import LeaderElection
from hcrm_core.db import Database
from hcrm_core.services.leadership import LEASE_SECONDS, Fence, Fenced


def _recorder(lines: list[str], line: str, *, fails: bool = False) -> Callable[[], Awaitable[None]]:
    async def act() -> None:
        if fails:
            raise RuntimeError(line)
        lines.append(line)

    return act


async def test_sqlite_process_leads_alone_and_stops_its_parts_in_reverse(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}")
    lines: list[str] = []
    election = LeaderElection(database, node="only")
    election.add("dialing", _recorder(lines, "start dialing"), _recorder(lines, "stop dialing"))
    # A part that cannot start is left out; the others run.
    election.add("broken", _recorder(lines, "broken", fails=True), _recorder(lines, "never"))
    election.add("nightly", _recorder(lines, "start nightly"), _recorder(lines, "stop nightly"))
    try:
        await election.start()
        assert election.is_leader and not election.clustered
        assert election.health()["parts"] == ["dialing", "nightly"]
        assert election.fence.epoch is None and election.fence.valid
        await election.stop()
        assert lines == ["start dialing", "start nightly", "stop nightly", "stop dialing"]
        assert not election.is_leader
    finally:
        await database.dispose()


def test_lease_runs_out_unless_renewed_and_revoke_is_final() -> None:
    now = [100.0]
    fence = Fence(clock=lambda: now[0])
    fence.grant(7, renewed_at=now[0])
    now[0] += LEASE_SECONDS - 0.1
    fence.check_lease()
    fence.renew(now[0])
    now[0] += LEASE_SECONDS - 0.1
    assert fence.valid
    now[0] += 0.2
    with pytest.raises(Fenced):
        fence.check_lease()
    fence.renew(now[0])
    fence.revoke()
    assert not fence.valid


def test_an_unfenced_process_is_never_refused() -> None:
    fence = Fence()
    assert fence.valid
    fence.check_lease()
