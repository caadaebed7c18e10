"""Call control's HTTP side on a real server (Asterisk absent here): roles, CSRF, refusals
naming the field, and the audit trail. The calls themselves are in
tests/integration/callcenter/agents/test_call_control_asterisk.py."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from hcrm_core.models import AuditEvent
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
ACTIONS = (
    "hangup",
    "hold",
    "resume",
    "consult/complete",
    "consult/cancel",
    "recording/pause",
    "recording/resume",
)
TARGETED = ("transfer", "consult", "conference")


async def _logged_in(aiohttp_client: Any, world: ConsoleWorld) -> tuple[Any, str]:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "alice")).status == 302
    page = await client.get("/desk")
    assert page.status == 200
    text = await page.text()
    # The controls are on the page, with the shortcuts the desk lists.
    assert 'id="call-control"' in text and 'data-shortcut="Alt+H"' in text
    match = _META.search(text)
    assert match
    return client, match.group(1)


async def test_call_buttons_refuse_clearly_and_are_audited(world, aiohttp_client) -> None:
    anonymous = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await anonymous.post("/api/v1/desk/call/hold", json={})).status == 401
    client, token = await _logged_in(aiohttp_client, world)
    headers = {"X-CSRF-Token": token}
    assert (await client.post("/api/v1/desk/call/hold", json={})).status == 403  # no CSRF
    for action in ACTIONS:
        answer = await client.post(f"/api/v1/desk/call/{action}", json={}, headers=headers)
        assert answer.status == 409, action  # not signed in: nothing to act on
        assert (await answer.json())["message"]
    for action in TARGETED:
        body = {"kind": "number", "target": "+12125550199"}
        answer = await client.post(f"/api/v1/desk/call/{action}", json=body, headers=headers)
        assert answer.status == 409, action
    missing = await client.post(
        "/api/v1/desk/call/transfer", json={"kind": "queue"}, headers=headers
    )
    assert missing.status == 422 and (await missing.json())["field"] == "target"
    bad_kind = await client.post(
        "/api/v1/desk/call/transfer", json={"kind": "fax", "target": "x"}, headers=headers
    )
    assert bad_kind.status == 422 and (await bad_kind.json())["field"] == "kind"
    async with world.server.database.session() as session:
        rows = (
            await session.scalars(select(AuditEvent).where(AuditEvent.entity == "call_control"))
        ).all()
    outcomes = [(r.detail["event"], r.detail["outcome"]) for r in rows]
    assert ("hold", "attempt") in outcomes and ("hold", "refused: not_signed_in") in outcomes
    assert ("transfer", "refused: transfer_target_invalid") in outcomes
    # Each button is audited under its own event before Asterisk would be asked.
    attempted = {event for event, outcome in outcomes if outcome == "attempt"}
    assert attempted == {
        "hangup",
        "hold",
        "resume",
        "consult_complete",
        "consult_cancel",
        "recording_pause",
        "recording_resume",
        *TARGETED,
    }
