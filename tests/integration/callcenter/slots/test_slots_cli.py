"""``callcenter slots extend`` as an operator runs it (in-process, SQLite)."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from callcenter.cli import cli
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.policy import BookingPolicy
from tests.support.factories import make_hospital


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("CALLCENTER_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))
    return tmp_path


async def test_extend_until_a_date_then_again_creates_nothing(env: Path) -> None:
    url = f"sqlite+aiosqlite:///{env / 'callcenter.sqlite3'}"
    await upgrade_async(url)
    database = Database(url)
    try:
        # Doctors with weekday clinics; the factory's own slots cover today only.
        await make_hospital(database, BookingPolicy(), days=0)
    finally:
        await database.dispose()
    until = (date.today() + timedelta(days=14)).isoformat()
    runner = CliRunner()
    first = await _invoke(runner, ["slots", "extend", "--until", until])
    assert first.exit_code == 0, first.output
    created = int(re.match(r"(\d+) slots created", first.output).group(1))  # type: ignore[union-attr]
    assert created > 0 and f"through {until}" in first.output
    again = await _invoke(runner, ["slots", "extend", "--until", until])
    assert again.output.startswith("0 slots created")
    past = await _invoke(runner, ["slots", "extend", "--until", "2001-01-01"])
    assert past.exit_code != 0 and "until" in past.output


async def _invoke(runner: CliRunner, args: list[str]) -> Result:
    # The command runs its own event loop: off this test's loop, in a thread.
    return await asyncio.to_thread(runner.invoke, cli, args)
