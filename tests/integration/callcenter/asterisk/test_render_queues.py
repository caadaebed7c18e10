"""queues.conf from the queues kept in the database: what the server writes after a change and
what `callcenter asterisk render --queues-from-database` writes; refused names never reach it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from callcenter.asterisk import const
from callcenter.asterisk.queues import stored_queue_specs
from callcenter.asterisk.render import RenderError, write_queues_conf
from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.migrate import upgrade_async
from hcrm_core.services.queues import Members, QueueSettings, create_queue
from tests.unit.callcenter.asterisk.test_render import SECRET, sections

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_the_stored_queues_become_sections_with_their_settings(
    database: Database, tmp_path: Path
) -> None:
    await create_queue(
        database,
        "cardio",
        QueueSettings(
            display_name="Cardiology nurses",
            strategy="ringall",
            ring_timeout=25,
            wrapup_seconds=0,
            announce_position=False,
            announce_holdtime=True,
            announce_frequency=45,
        ),
        Members(everyone=True),
        Actor.system(),
    )
    await create_queue(
        database,
        "spare",
        QueueSettings(display_name="Spare", active=False),
        Members(),
        Actor.system(),
    )
    specs = await stored_queue_specs(database)
    assert specs is not None and [s.name for s in specs] == ["appointments", "cardio", "enquiries"]
    text = write_queues_conf("General Hospital", tmp_path, specs).read_text()
    queues = sections(text)
    assert dict(queues["cardio"]) == {
        "strategy": "ringall",
        "timeout": "25",
        "wrapuptime": "0",
        "announce-position": "no",
        "announce-holdtime": "yes",
        "announce-frequency": "45",
    }
    assert dict(queues["appointments"])["strategy"] == "rrmemory"
    assert "spare" not in queues


def test_names_and_values_asterisk_cannot_hold_are_refused(tmp_path: Path) -> None:
    for bad in (
        const.QueueSpec("general", "x"),
        const.QueueSpec("Bad Name", "x"),
        const.QueueSpec("a;b", "x"),
        const.QueueSpec("qq", "x", strategy="fastest"),
        const.QueueSpec("qq", "x", timeout=-1),
    ):
        with pytest.raises(RenderError):
            write_queues_conf("H", tmp_path, [bad])
    with pytest.raises(RenderError, match="twice"):
        write_queues_conf("H", tmp_path, [const.QueueSpec("qq", "x")] * 2)


async def _database_with_a_queue(url: str) -> None:
    await upgrade_async(url)
    database = Database(url)
    await create_queue(
        database, "walk-in", QueueSettings(display_name="Walk-in"), Members(True), Actor.system()
    )
    await database.dispose()


def test_cli_renders_the_database_queues_when_asked(tmp_path: Path) -> None:
    from callcenter.cli import cli

    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'callcenter.sqlite3'}"
    asyncio.run(_database_with_a_queue(url))
    env = {
        "CALLCENTER_DATA_DIR": str(data),
        "CALLCENTER_AMI__SECRET": SECRET,
        "CALLCENTER_DATABASE__URL": url,
    }
    for flags, expected in (([], False), (["--queues-from-database"], True)):
        out = tmp_path / f"out{len(flags)}"
        result = CliRunner().invoke(cli, ["asterisk", "render", "--out", str(out), *flags], env=env)
        assert result.exit_code == 0, result.output
        assert ("walk-in" in sections((out / "queues.conf").read_text())) is expected
