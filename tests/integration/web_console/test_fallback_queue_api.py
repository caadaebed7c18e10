"""The queue API refuses to deactivate the dialplan's fallback queue (422 naming the field)."""

from __future__ import annotations

from typing import Any

from hcrm_core.models.queues import FALLBACK_QUEUE
from hcrm_core.services import queues as svc
from tests.support.console import ConsoleWorld, csrf_from, login
from web_console.app import create_app
from web_console.keys import CSRF_FIELD


async def test_the_api_refuses_it_with_a_422_naming_active(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "ada")).status == 302
    token = csrf_from(await (await client.get("/")).text())
    headers = {"X-CSRF-Token": token}
    answer = await client.patch(
        f"/api/v1/queues/{FALLBACK_QUEUE}", json={"active": False}, headers=headers
    )
    assert answer.status == 422
    body = await answer.json()
    assert body["field"] == "active", body
    # A queue is never renamed: its name is the dialplan's extension (unknown field).
    answer = await client.patch(
        f"/api/v1/queues/{FALLBACK_QUEUE}", json={"name": "general-enquiries"}, headers=headers
    )
    assert answer.status == 422 and (await answer.json())["field"] == "name"
    assert (await svc.get_queue(world.server.database, FALLBACK_QUEUE)).active


async def test_the_queue_page_shows_the_refusal_beside_active(
    world: ConsoleWorld, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, "ada")).status == 302
    token = csrf_from(await (await client.get("/")).text())
    form = {
        CSRF_FIELD: token,
        "display_name": "Enquiries",
        "strategy": "rrmemory",
        "ring_timeout": "15",
        "wrapup_seconds": "10",
        "max_wait_seconds": "0",
        "overflow": "hangup",
        "overflow_queue": "",
        "announce_frequency": "60",
        "menu_digit": "",
        "everyone": "on",
    }  # "active" unticked
    refused = await client.post(f"/admin/queues/{FALLBACK_QUEUE}", data=form)
    assert refused.status == 422
    page = await refused.text()
    assert 'id="active-error"' in page and "cannot be reached" in page
    assert (await svc.get_queue(world.server.database, FALLBACK_QUEUE)).active
