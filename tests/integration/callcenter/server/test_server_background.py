"""``run_server(background=...)``: the job ``callcenter demo`` runs beside the server."""

from __future__ import annotations

import asyncio

from callcenter.server.root import Server
from callcenter.server.run import run_server
from tests.support.console import closed_port, console_settings


async def test_a_background_job_sees_the_server_and_its_failure_stops_the_server(tmp_path):
    settings = console_settings(tmp_path)
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"port": closed_port()})}
    )
    seen: list[Server] = []

    async def job(server: Server) -> None:
        seen.append(server)
        raise RuntimeError("the simulated callers broke")

    # Without the failure stopping it, run_server would wait for SIGTERM forever.
    async with asyncio.timeout(30):
        await run_server(settings, background=job)
    assert len(seen) == 1 and seen[0].settings is settings
