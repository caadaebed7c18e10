"""The supervisor board: today's totals from the database, pushes over /ws, and who may see it.

Live-Asterisk coverage (calls placed by the demo's simulated patients, counted on the board)
is in tests/integration/callcenter/demo/test_demo_stream_asterisk.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.board.services import BoardChanged, BoardService
from callcenter.bus import EventBus
from callcenter.calls.state import CallAnswered, CallEnded, CallQueued, CallStarted
from hcrm_core.db import Database
from hcrm_core.models import Call, CallDirection
from tests.support.console import ConsoleWorld, login
from web_console.app import create_app

QUEUE = "appointments"


def _call(linkedid: str, started: datetime, **values: Any) -> Call:
    return Call(
        linkedid=linkedid,
        direction=CallDirection.INBOUND,
        started_at=started,
        ended_at=started + timedelta(minutes=2),
        ivr_context={},
        **values,
    )


async def test_todays_totals_come_from_the_database_after_a_restart(database: Database) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=30) if now.hour >= 1 else now
    async with database.transaction() as session:
        session.add_all(
            [
                _call("fast", today, queue=QUEUE, answered_at=today, queue_wait_seconds=12.0),
                _call("slow", today, queue=QUEUE, answered_at=today, queue_wait_seconds=95.0),
                _call("gone", today, queue=QUEUE, abandoned=True, queue_wait_seconds=30.0),
                _call("ivr-only", today),
                _call("old", today - timedelta(days=1), queue=QUEUE, answered_at=today),
                Call(
                    linkedid="live",
                    direction=CallDirection.INBOUND,
                    started_at=today,
                    queue=QUEUE,
                    ivr_context={},
                ),
            ]
        )
    bus = EventBus()
    board = BoardService(bus, database, None, timezone="UTC", queues=[(QUEUE, "Booking")])
    await board.start()
    try:
        snapshot = board.snapshot()
    finally:
        await board.stop()
        await bus.close()
    (queue,) = [q for q in snapshot["queues"] if q["name"] == QUEUE]
    assert (queue["answered"], queue["abandoned"], queue["answered_within_sl"]) == (2, 1, 1)
    assert queue["service_level"] == 33.3
    assert snapshot["hours"] == [{"hour": today.hour, "calls": 4, "answered": 2, "abandoned": 1}]


async def _next_board(socket: Any, check: Any = lambda _b: True) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive_json()
            if message["type"] == "board" and check(message["board"]):
                return message["board"]


def _answered(board: dict[str, Any]) -> int:
    return next(q["answered"] for q in board["queues"] if q["name"] == QUEUE)


async def test_supervisors_get_the_board_on_connect_and_live(world: ConsoleWorld, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    await login(client, "sam")
    page = await client.get("/supervisor")
    assert page.status == 200
    assert 'id="board-queues"' in await page.text()
    socket = await client.ws_connect("/ws")
    first = await _next_board(socket)
    assert {q["name"] for q in first["queues"]} >= {QUEUE, "enquiries"}

    at = datetime.now(UTC)
    bus = world.server.bus
    for notice in (
        CallStarted("board-1", "inbound", "+12125550100", None, None, at),
        CallQueued("board-1", QUEUE, 1, at),
        CallAnswered("board-1", QUEUE, "PJSIP/1234", 4.0, at + timedelta(seconds=4)),
    ):
        bus.publish(notice)
    live = await _next_board(socket, lambda b: _answered(b) == _answered(first) + 1)
    (agent,) = [a for a in live["agents"] if a["interface"] == "PJSIP/1234"]
    assert agent["state"] == "on_call" and agent["call"]["linkedid"] == "board-1"
    bus.publish(CallEnded("board-1", "completed", False, 16, at + timedelta(seconds=30)))
    ended = await _next_board(socket, lambda b: sum(h["calls"] for h in b["hours"]) >= 1)
    assert all(a["interface"] != "PJSIP/1234" for a in ended["agents"])
    await socket.close()


async def test_agents_get_no_board_and_no_board_page(world: ConsoleWorld, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    await login(client, "alice")
    assert (await client.get("/supervisor", allow_redirects=False)).status == 403
    socket = await client.ws_connect("/ws")
    first = await socket.receive_json(timeout=10)
    assert first["type"] != "board"
    bus = world.server.bus
    pushed = asyncio.Event()

    async def on_board(_changed: BoardChanged) -> None:
        pushed.set()

    watch = bus.subscribe(BoardChanged, on_board, name="test-board-pushed")
    bus.publish(CallStarted("board-2", "inbound", None, None, None, datetime.now(UTC)))
    async with asyncio.timeout(10):
        await pushed.wait()
    await bus.join()  # the push has reached the hub: supervisors' outboxes have it now
    await watch.close()
    received: list[str] = []
    try:
        async with asyncio.timeout(1.0):
            while True:
                received.append((await socket.receive_json())["type"])
    except TimeoutError:
        pass
    assert "board" not in received
    await socket.close()
