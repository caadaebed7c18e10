"""Report exports sent a chunk of rows at a time (web_console/report_stream.py), on both engines.

The streamed CSV is byte for byte what the console wrote before streaming (the eager code of
commit 6e74a35, kept below as the reference), the JSON the same figures; a client that leaves
in the middle of a download leaves its audit row and no error behind; bad input is still a
4xx naming the field, before anything is sent.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from hcrm_core.db import Database
from hcrm_core.models import (
    AgentStateChange,
    AuditAction,
    AuditEvent,
    Call,
    CallDirection,
    User,
)
from hcrm_core.services.reports_agents import TIMED_STATES, AgentReport, agent_report
from hcrm_core.services.reports_period import parse_period
from hcrm_core.services.reports_queues import QueueReport, queue_report
from tests.support.console import PASSWORD, ConsoleWorld, csrf_from, login, start_console_world
from tests.support.factories import utc
from web_console import report_stream
from web_console.app import create_app
from web_console.labels import label
from web_console.report_views import QUEUE_COLUMNS, agent_table, period_json, queue_table

DST_END = "2026-11-01"  # New York's autumn change: a 25-hour day, its repeated hour labelled
EXPORTS = (("agents", "15min"), ("agents", "hour"), ("queues", "15min"), ("queues", "day"))


@pytest.fixture
async def engine_world(database: Database, tmp_path: Path) -> AsyncIterator[ConsoleWorld]:
    await database.dispose()
    world = await start_console_world(tmp_path / "data", database.url)
    await _seed(world)
    yield world
    await world.server.stop()


def _state(user_id: int, name: str, state: str, at: Any, reason: str = "") -> AgentStateChange:
    return AgentStateChange(
        user_id=user_id, username=name, extension="", state=state, pause_reason=reason, at=at
    )


async def _seed(world: ConsoleWorld) -> None:
    """Two agents' day across the repeated hour, pause reasons a CSV must quote or defuse,
    calls in two queues (answered by each agent, abandoned)."""
    start = utc(2026, 11, 1, 4, 50)  # 00:50 EDT; the clocks go back at 06:00 UTC
    async with world.server.database.transaction() as session:
        agent1_id = await session.scalar(select(User.id).where(User.username == "agent1"))
        assert agent1_id is not None
        rows: list[Any] = []
        for user_id, name, offset in ((world.agent_id, "alice", 0), (agent1_id, "agent1", 7)):
            at = start + timedelta(minutes=offset)
            rows += [
                _state(user_id, name, "ready", at),
                _state(user_id, name, "paused", at + timedelta(minutes=40), "=cmd|x"),
                _state(user_id, name, "ready", at + timedelta(minutes=53)),
                _state(user_id, name, "paused", at + timedelta(minutes=70), 'lunch, "long"'),
                _state(user_id, name, "on_call", at + timedelta(minutes=95)),
                _state(user_id, name, "wrap_up", at + timedelta(minutes=101)),
                _state(user_id, name, "signed_out", at + timedelta(minutes=130)),
            ]
        calls: list[tuple[str, int | None, int, int]] = [
            ("general", world.agent_id, 8, 90),
            ("general", agent1_id, 21, 333),
            ("-billing", world.agent_id, 4, 61),  # a CSV cell a spreadsheet would run
            ("-billing", None, 40, 0),
        ]
        for n, (queue, answerer, wait, talk) in enumerate(calls):
            queued = start + timedelta(minutes=95 + n)
            rows.append(
                Call(
                    linkedid=f"export-{n}",
                    direction=CallDirection.INBOUND,
                    started_at=queued,
                    queue=queue,
                    queued_at=queued,
                    queue_wait_seconds=wait,
                    agent_interface=None if answerer is None else "PJSIP/7001",
                    agent_user_id=answerer,
                    abandoned=answerer is None,
                    answered_at=None if answerer is None else queued + timedelta(seconds=wait),
                    ended_at=queued + timedelta(seconds=wait + talk),
                )
            )
        session.add_all(rows)


# The eager code that made the tables and their CSV before they were streamed (6e74a35).
def _previous_csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _previous_csv(headings: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_previous_csv_safe(h) for h in headings])
    for row in rows:
        writer.writerow(["" if v is None else _previous_csv_safe(v) for v in row])
    return out.getvalue()


def _previous_queue_table(report: QueueReport) -> tuple[list[str], list[str], list[list[Any]]]:
    granularity = report.period.granularity
    columns = ["bucket_start", "bucket", "queue", *(key for key, _ in QUEUE_COLUMNS)]
    headings = ["Start", "Period", "Queue", *(title for _, title in QUEUE_COLUMNS)]
    rows: list[list[Any]] = []
    for line in report.queues:
        for bucket, figures in zip(report.buckets, line.buckets, strict=True):
            values = figures.as_dict()
            rows.append(
                [bucket.local_start.isoformat(), bucket.label(granularity), line.queue]
                + [values[key] for key, _ in QUEUE_COLUMNS]
            )
        totals = line.total.as_dict()
        rows.append(["", "Total", line.queue] + [totals[key] for key, _ in QUEUE_COLUMNS])
    return columns, headings, rows


def _previous_agent_table(report: AgentReport) -> tuple[list[str], list[str], list[list[Any]]]:
    granularity = report.period.granularity
    reasons = sorted({r for line in report.agents for r in line.total.paused_by_reason})
    columns = [
        "bucket_start",
        "bucket",
        "agent",
        "signed_in_seconds",
        *(f"{s}_seconds" for s in TIMED_STATES),
        *(f"paused:{r}" for r in reasons),
        "calls_handled",
        "handle_time_average_seconds",
    ]
    headings = [
        "Start",
        "Period",
        "Agent",
        "Signed in (s)",
        *(f"{label(s)} (s)" for s in TIMED_STATES),
        *(f"Paused: {r} (s)" for r in reasons),
        "Calls handled",
        "Handle time (avg s)",
    ]
    rows: list[list[Any]] = []
    for line in report.agents:
        pairs = [
            *(
                (b.local_start.isoformat(), b.label(granularity), f)
                for b, f in zip(report.buckets, line.buckets, strict=True)
            ),
            ("", "Total", line.total),
        ]
        for start, name, figures in pairs:
            values = figures.as_dict()
            by_reason: dict[str, float] = values["paused_by_reason_seconds"]  # type: ignore[assignment]
            rows.append(
                [start, name, line.username, values["signed_in_seconds"]]
                + [values[f"{s}_seconds"] for s in TIMED_STATES]
                + [by_reason.get(r, 0.0) for r in reasons]
                + [values["calls_handled"], values["handle_time_average_seconds"]]
            )
    return columns, headings, rows


async def _exports(database: Database) -> list[AuditEvent]:
    async with database.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "report", AuditEvent.action == AuditAction.EXPORT)
            .order_by(AuditEvent.id)
        )
        return list(rows)


async def _client(world: ConsoleWorld, aiohttp_client: Any, user: str = "sam") -> Any:
    client = await aiohttp_client(create_app(world.server.console_deps()))
    assert (await login(client, user)).status == 302
    return client


def _previous(report: AgentReport | QueueReport) -> tuple[dict[str, Any], str, list[Any]]:
    """The JSON head, the CSV and the JSON rows the eager code made of ``report``."""
    head: dict[str, Any] = {"period": period_json(report.period)}
    if isinstance(report, AgentReport):
        columns, headings, rows = _previous_agent_table(report)
        head["totals"] = {line.username: line.total.as_dict() for line in report.agents}
    else:
        columns, headings, rows = _previous_queue_table(report)
        head["sl_seconds"] = report.sl_seconds
        head["totals"] = {line.queue: line.total.as_dict() for line in report.queues}
    objects = [dict(zip(columns, row, strict=True)) for row in rows]
    return head, _previous_csv(headings, rows), objects


async def test_streamed_csv_and_json_equal_the_previous_output(
    engine_world: ConsoleWorld, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seven rows a chunk: the rows cross many chunks' edges.
    monkeypatch.setattr(report_stream, "ROWS_PER_CHUNK", 7)
    sam = await _client(engine_world, aiohttp_client)
    for kind, by in (
        ("agents", "15min"),
        ("agents", "hour"),
        ("queues", "15min"),
        ("queues", "day"),
    ):
        await _same_as_before(engine_world, sam, kind, by)


async def _same_as_before(world: ConsoleWorld, sam: Any, kind: str, by: str) -> None:
    database = world.server.database
    period = parse_period(DST_END, DST_END, by, world.server.settings.tz)
    report = await (agent_report if kind == "agents" else queue_report)(database, period)
    head, expected_csv, expected_rows = _previous(report)
    # The rows made as they are read, in turn or by index, are the rows the eager code made.
    rows = agent_table(report).rows if isinstance(report, AgentReport) else queue_table(report).rows
    assert len(rows) == len(expected_rows) and rows[-1] == list(expected_rows[-1].values())
    assert list(rows) == rows[:] == [rows[i] for i in range(len(rows))]
    assert [dict(zip(expected_rows[0], row, strict=True)) for row in rows] == expected_rows
    if kind == "agents":  # the seeded figures are there, quoted
        assert '"Paused: lunch, ""long"" (s)"' in expected_csv
        assert head["totals"]["alice"]["paused_seconds"] == 38 * 60.0
    else:  # and defused
        assert head["totals"]["general"]["answered"] == 2 and ",'-billing," in expected_csv
    assert by != "15min" or "01:00 EST" in expected_csv  # the repeated hour, told apart
    before = len(await _exports(database))
    query = urlencode({"from": DST_END, "to": DST_END, "by": by})
    for url in (f"/api/v1/reports/{kind}?{query}&format=csv", f"/reports/{kind}.csv?{query}"):
        answer = await sam.get(url)
        assert answer.status == 200, url
        assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert answer.headers["Content-Disposition"] == (
            f'attachment; filename="{kind}-{DST_END}-{DST_END}.csv"'
        )
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert await answer.read() == expected_csv.encode(), url
    exports = await _exports(database)
    assert [(e.entity_id, e.detail["rows"]) for e in exports[before:]] == [
        (kind, len(expected_rows))
    ] * 2
    answer = await sam.get(f"/api/v1/reports/{kind}?{query}")
    assert answer.status == 200 and answer.content_type == "application/json"
    assert await answer.json() == {**head, "rows": expected_rows}, (kind, by)
    assert len(await _exports(database)) == before + 2  # the JSON answer is no export


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2026-01-01&to=2026-11-01&by=15min", "to"),
        (f"from={DST_END}&to={DST_END}&by=year", "by"),
        (f"from={DST_END}&to={DST_END}&agent=nobody", "agent"),
        (f"from={DST_END}&to={DST_END}&colour=red", "colour"),
    ],
)
async def test_bad_export_input_is_refused_naming_the_field(
    world: ConsoleWorld, aiohttp_client: Any, query: str, field: str
) -> None:
    sam = await _client(world, aiohttp_client)
    before = len(await _exports(world.server.database))
    for fmt in ("csv", "json"):
        answer = await sam.get(f"/api/v1/reports/agents?{query}&format={fmt}")
        assert answer.status == 422, (fmt, answer.status)
        assert (await answer.json())["field"] == field
    assert (await sam.get(f"/reports/agents.csv?{query}")).status == 422
    assert len(await _exports(world.server.database)) == before  # nothing exported, nothing audited


def _small_buffers(kind: int) -> socket.socket:
    # Buffers of a few KiB: the server is still writing the export when the client leaves
    # (with the kernel's default, a loopback takes megabytes before a write waits).
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, kind, 4096)
    return sock


async def _session_cookie(base: str, username: str) -> str:
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: a default jar keeps no cookies for an IP
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as page:
            token = csrf_from(await page.text())
        form = {"username": username, "password": PASSWORD, "csrf_token": token}
        async with http.post(f"{base}/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 302, f"login of {username} refused ({answer.status})"
        cookies = {cookie.key: cookie.value for cookie in jar}
    return cookies["cc_session"]


class _Watch(logging.Handler):
    """Sets ``seen`` when a record carrying ``text`` is logged (on the loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def test_a_client_leaving_mid_download_leaves_its_audit_row_and_no_error(
    world: ConsoleWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """Served as ``callcenter serve`` serves the console (an AppRunner: handlers are not
    cancelled when a client leaves; the next write finds the connection gone)."""
    caplog.set_level(logging.INFO)
    left = _Watch("the client left before the end")
    logging.getLogger(report_stream.__name__).addHandler(left)
    database = world.server.database
    runner = web.AppRunner(create_app(world.server.console_deps()), access_log=None)
    await runner.setup()
    listener = _small_buffers(socket.SO_SNDBUF)  # the accepted sockets inherit it
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await web.SockSite(runner, listener).start()
    try:
        cookie = await _session_cookie(f"http://127.0.0.1:{port}", "sam")
        before = len(await _exports(database))
        # A week of 10 agents by quarter hour: 6,770 rows, some 500 kB of CSV.
        path = "/api/v1/reports/agents?from=2026-11-01&to=2026-11-07&by=15min&format=csv"
        client = _small_buffers(socket.SO_RCVBUF)
        client.setblocking(False)
        await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=client)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: cc_session={cookie}\r\n\r\n"
        writer.write(request.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert await asyncio.wait_for(reader.read(1024), 10), "no byte of the export came"
        writer.transport.abort()  # gone, mid-download
        try:
            async with asyncio.timeout(10):
                await left.seen.wait()
        except TimeoutError:
            raise AssertionError(f"no log record {left.text!r} within 10 s") from None
        exports = await _exports(database)
        assert len(exports) == before + 1 and exports[-1].entity_id == "agents"
        rows = exports[-1].detail["rows"]
        assert rows > 5000
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        # The server goes on: the same export, whole.
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=jar, cookies={"cc_session": cookie}) as http,
            http.get(f"http://127.0.0.1:{port}{path}") as answer,
        ):
            assert answer.status == 200
            text = await answer.text()
        assert len(list(csv.reader(io.StringIO(text)))) == rows + 1  # and the headings
    finally:
        logging.getLogger(report_stream.__name__).removeHandler(left)
        await runner.cleanup()
