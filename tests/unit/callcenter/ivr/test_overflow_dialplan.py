"""The dialplan's message overflow: an exact extension of callcenter-queues runs the IVR's
queue-overflow route with the queue the caller waited in."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from callcenter.asterisk import const
from callcenter.asterisk.render import render_config
from callcenter.settings import AmiSettings, Settings
from hcrm_core.services.queues import RESERVED_NAMES


def test_the_leave_message_extension_runs_the_overflow_route(tmp_path: Path) -> None:
    settings = Settings(ami=AmiSettings(secret=SecretStr("unit-test-secret")))
    render_config(settings, tmp_path, sandbox=False)
    text = (tmp_path / "extensions.conf").read_text()
    queues = text[text.index(f"[{const.CONTEXT_QUEUES}]") : text.index("[callcenter-record]")]
    extension = f"exten => {const.QUEUE_OVERFLOW_MESSAGE},1,AGI(${{CALLCENTER_AGI}}/"
    assert (
        f"{extension}{const.AGI_ROUTE_QUEUE_OVERFLOW},${{FILTER(-a-z0-9_,${{CALLCENTER_QUEUE}})}})"
        in queues
    )
    assert '"${AGISTATUS}" = "FAILURE"]?after-queue,1)' in queues
    assert const.QUEUE_OVERFLOW_MESSAGE in RESERVED_NAMES  # no queue can shadow it
