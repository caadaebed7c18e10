"""``callcenter user disable|enable|reset-password``, run in-process on a fresh SQLite database."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from click.testing import CliRunner

from callcenter.cli import cli
from hcrm_core.db import Database
from hcrm_core.services.users import verify_credentials


def test_disable_enable_and_reset_a_password_from_the_shell(tmp_path: Path) -> None:
    env = {k: None for k in os.environ if k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATA_DIR"] = str(tmp_path)
    runner = CliRunner(env=env)

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    assert run("db", "upgrade")[0] == 0
    for name, role in (("boss", "admin"), ("nurse.li", "agent")):
        code, out = run("user", "add", name, "--role", role, "--password", "a-long-password")
        assert code == 0, out
    assert run("user", "disable", "nurse.li") == (0, "user 'nurse.li' disabled\n")
    code, out = run("user", "disable", "boss")
    assert code == 1 and "last active admin" in out
    code, out = run("user", "enable", "nobody")
    assert code == 1 and "no user named" in out
    assert run("user", "enable", "nurse.li")[0] == 0
    code, out = run("user", "reset-password", "nurse.li")
    assert code == 0, out
    password = out.split("(shown once): ")[1].split()[0]

    async def check() -> tuple[object, object]:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.sqlite3'}")
        try:
            old = await verify_credentials(database, "nurse.li", "a-long-password")
            new = await verify_credentials(database, "nurse.li", password)
            return old, new
        finally:
            await database.dispose()

    old, new = asyncio.run(check())
    assert old is None
    assert new is not None and new.must_change_password  # type: ignore[attr-defined]
