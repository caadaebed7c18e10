"""One running server (SQLite) shared by the console tests of a module; apps are per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.console import ConsoleWorld, start_console_world


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleWorld]:
    world = await start_console_world(tmp_path_factory.mktemp("console"))
    yield world
    await world.server.stop()
