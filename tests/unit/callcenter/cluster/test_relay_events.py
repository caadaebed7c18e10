"""The relayed events survive the trip through JSON; the relay's DSN and its SQLite stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from callcenter.agents.notifier import QueuesChanged
from callcenter.bus import EventBus
from callcenter.calls.state import IvrProgress
from callcenter.cluster.relay import IdleRelay, asyncpg_dsn, start_relay


def _trip(data: dict[str, object]) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(json.dumps(data))
    return loaded


def test_ivr_progress_comes_back_equal() -> None:
    progress = IvrProgress(
        "1700000000.42",
        "to-agent",
        {"tried": ["identify-caller-id"], "failures": {"main-menu": 1}, "patient_id": 7},
        left=True,
        patient_id=7,
    )
    assert IvrProgress.from_dict(_trip(progress.to_dict())) == progress


def test_queues_changed_comes_back_as_tuples() -> None:
    changed = QueuesChanged((("cardiology", "Cardiology"), ("general", "General")))
    assert QueuesChanged.from_dict(_trip(changed.to_dict())) == changed


def test_the_dsn_is_plain_libpq() -> None:
    dsn = asyncpg_dsn("postgresql+asyncpg://hcrm:s3cret@db.example:5433/hcrm")
    assert dsn == "postgresql://hcrm:s3cret@db.example:5433/hcrm"


async def test_sqlite_has_no_relay(tmp_path: Path) -> None:
    relay = await start_relay(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", EventBus(), ())
    assert isinstance(relay, IdleRelay)
    await relay.stop()
