"""The dialer inside the server ``callcenter serve`` runs: on with a caller ID, off without one."""

from __future__ import annotations

from pathlib import Path

from callcenter.asterisk.const import AGI_ROUTE_SURVEY
from callcenter.server.root import start_server
from tests.support.console import console_settings


async def test_dialer_runs_only_with_a_caller_id(tmp_path: Path) -> None:
    settings = console_settings(tmp_path / "off")
    server = await start_server(settings, serve_console=False)
    try:
        assert server.outbound.dialer is None  # no hospital caller ID: no campaign calls
        assert AGI_ROUTE_SURVEY in server.agi._routes  # served to the dialplan
    finally:
        await server.stop()
    on = settings.model_copy(
        update={
            "data_dir": tmp_path / "on",
            "hospital": settings.hospital.model_copy(update={"caller_id_number": "+12125550100"}),
        }
    )
    server = await start_server(on, serve_console=False)
    try:
        dialer = server.outbound.dialer
        assert dialer is not None and dialer.options.caller_id.endswith("<+12125550100>")
        # AMI is unreachable here: nothing reconciled, so nothing may be dialled.
        assert not dialer.reconciled.is_set()
    finally:
        await server.stop()
