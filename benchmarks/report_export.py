"""Report exports over a month by quarter hour, through the console: time to last byte and
memory, CSV and JSON, against the report's computation alone measured in the same run.

A 50-agent centre's agent report by 15 minutes over a month is 31 x 96 quarters x 50 agents,
about 150,000 rows (with a total row per agent); the queue report 3 queues x 2,977 rows. The
month is seeded by ``benchmarks/reports.py`` (calls folded from synthetic AMI events, the
agents' state history), kept in the database ``--database`` so that later runs reuse it. The
whole server runs in this process (``start_server``, no PBX) and serves the console on the
loopback; a logged-in supervisor downloads each export with aiohttp, reading every chunk as
it comes (nothing kept). Measured per export:

- time to last byte (p50 of ``--samples``, interleaved with the baseline, so that load on the
  shared machine falls on both): the request until the last byte is read;
- the longest time the event loop ran no other task meanwhile (a 1 ms ticker's worst delay:
  what the desk's websockets and the AMI reader waited);
- peak RSS of the process above its level before the request (``VmHWM`` reset through
  ``/proc/self/clear_refs``), and the peak of Python allocations (``tracemalloc``, in a run
  of its own: tracing slows everything down).

Baselines: the report computed by its service (``agent_report``, ``queue_report``) with no
serialisation, the same period and filters, its time and peak allocations; and PostgreSQL's
``COPY ... TO STDOUT (FORMAT csv)`` of as many rows of ``calls`` as the CSV has, read by
asyncpg (what writing that many rows costs the database's own C code).

Run: ``.venv/bin/python -m benchmarks.report_export [--database bench_export] [--days 31]
[--calls-per-day 4100] [--agents 50] [--samples 5]`` (PostgreSQL from ``--pg-url`` or
``CALLCENTER_TEST_PG_URL``; without ``--database`` a scratch database, seeded and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import make_url

from benchmarks import reports as seeder
from benchmarks._common import Figure, default_pg_url, print_figures
from callcenter.server.root import Server, start_server
from callcenter.settings import Settings
from hcrm_core.db import Database
from hcrm_core.models import Role, User
from hcrm_core.services.reports_agents import agent_report
from hcrm_core.services.reports_period import Period, parse_period
from hcrm_core.services.reports_queues import queue_report
from hcrm_core.services.users import create_user
from web_console.app import create_app

SUPERVISOR = "bench-export-sam"
PASSWORD = "bench-export-password"
REPORT_TARGET_SECONDS = 1.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CHUNK = 1 << 16


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument(
        "--database", help="seed this PostgreSQL database once and keep it (reused when seeded)"
    )
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--calls-per-day", type=int, default=4100)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def _seeder_args(args: argparse.Namespace) -> argparse.Namespace:
    argv = [
        *("--engine", "postgresql", "--pg-url", args.pg_url),
        *("--agents", str(args.agents), "--days", str(args.days)),
        *("--calls-per-day", str(args.calls_per_day), "--seed", str(args.seed)),
    ]
    if args.database:
        argv += ["--database", args.database]
    return seeder.parse_args(argv)


@asynccontextmanager
async def seeded_month(args: argparse.Namespace) -> AsyncIterator[str]:
    """The URL of a PostgreSQL database holding the seeded history (``benchmarks/reports.py``
    seeds it: a kept ``--database`` is reused when already seeded with the same options)."""
    options = _seeder_args(args)
    async with seeder._database("postgresql", options) as url:
        database = Database(url)
        try:
            calls, events = await seeder._seeded(database, options)
            await _supervisor(database)
        finally:
            await database.dispose()
        print(f"  {calls:,} calls, {events:,} events", flush=True)
        yield url


async def _supervisor(database: Database) -> None:
    async with database.transaction() as session:
        if await session.scalar(select(User.id).where(User.username == SUPERVISOR)) is None:
            await create_user(session, username=SUPERVISOR, password=PASSWORD, role=Role.SUPERVISOR)


def _settings(data_dir: Path, url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database={"url": url},
        hospital={"timezone": seeder.TZ.key},
        ami={"port": 9, "secret": "not-used", "reconnect_min": 1, "reconnect_max": 30},
        agi={"port": 0},
    )


@asynccontextmanager
async def console(url: str) -> AsyncIterator[tuple[Server, str]]:
    """The whole server in this process (no PBX: the AMI port is closed) and the console
    served on the loopback; its base URL."""
    with tempfile.TemporaryDirectory(prefix="bench_export_") as scratch:
        server = await start_server(_settings(Path(scratch), url), serve_console=False)
        runner = web.AppRunner(create_app(server.console_deps()), access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            yield server, f"http://{host}:{port}"
        finally:
            await runner.cleanup()
            await server.stop()


async def login(base: str) -> aiohttp.ClientSession:
    # unsafe: a default jar keeps no cookies for an IP host.
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(f"{base}/login") as page:
        token = _CSRF.search(await page.text())
    assert token, "login form without its CSRF token"
    form = {"username": SUPERVISOR, "password": PASSWORD, "csrf_token": token.group(1)}
    async with http.post(f"{base}/login", data=form, allow_redirects=False) as answer:
        assert answer.status == 302, f"login refused ({answer.status})"
    return http


def _rss_kib() -> tuple[int, int]:
    """This process's resident memory now and its peak since the last reset (KiB)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _reset_rss_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS (VmHWM) to now


@dataclass(slots=True)
class Download:
    seconds: float
    size: int
    rss_growth_kib: int
    stall: float  # the longest time the event loop ran no other task (s)


class StallWatch:
    """The longest stretch during which the event loop ran nothing else: a task that asks to
    wake every millisecond and notes how late it woke (the desk's websockets and the AMI
    reader wait that long too)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StallWatch:
        self._task = asyncio.create_task(self._watch())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, loop.time() - before - 0.001)


async def download(http: aiohttp.ClientSession, url: str) -> Download:
    """One export, read to its last byte in chunks that are dropped as they come."""
    gc.collect()
    _reset_rss_peak()
    before, _ = _rss_kib()
    began = time.perf_counter()
    size = 0
    async with StallWatch() as watch, http.get(url) as answer:
        assert answer.status == 200, f"{url}: {answer.status} {await answer.text()}"
        async for chunk in answer.content.iter_chunked(_CHUNK):
            size += len(chunk)
    seconds = time.perf_counter() - began
    _, peak = _rss_kib()
    return Download(seconds, size, peak - before, watch.longest)


async def traced_peak(work: Callable[[], Awaitable[Any]]) -> int:
    """Peak bytes of Python allocations above the level before, while ``work`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        await work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


async def copy_rows(url: str, rows: int) -> float:
    """PostgreSQL writing ``rows`` rows of ``calls`` as CSV (COPY TO STDOUT), read by asyncpg
    and dropped: seconds."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        sink = _Sink()
        began = time.perf_counter()
        await connection.copy_from_query(
            f"SELECT * FROM calls ORDER BY id LIMIT {int(rows)}", output=sink, format="csv"
        )
        return time.perf_counter() - began
    finally:
        await connection.close()


class _Sink:
    def __init__(self) -> None:
        self.size = 0

    async def __call__(self, chunk: bytes) -> None:
        self.size += len(chunk)


@dataclass(frozen=True, slots=True)
class Export:
    kind: str  # agents | queues
    fmt: str  # csv | json
    rows: int  # rows in the CSV (its heading excluded): the COPY baseline's row count


def _mib(n: float) -> str:
    return f"{n / 1048576:,.1f} MiB"


async def measure(server: Server, base: str, url: str, month: Period, samples: int) -> list[Figure]:
    database = server.database
    computations: dict[str, Callable[[], Awaitable[Any]]] = {
        "agents": lambda: agent_report(database, month),
        "queues": lambda: queue_report(database, month),
    }
    query = f"from={month.first}&to={month.last}&by={month.granularity.value}"
    http = await login(base)
    figures: list[Figure] = []
    try:
        for kind, compute in computations.items():
            report = await compute()
            lines = report.agents if kind == "agents" else report.queues
            rows = len(lines) * (len(report.buckets) + 1)
            del report, lines
            times: dict[str, list[float]] = {"compute": [], "csv": [], "json": []}
            stalls: dict[str, list[float]] = {"compute": [], "csv": [], "json": []}
            last: dict[str, Download] = {}
            for _ in range(samples):  # in turns: a burst of load falls on all alike
                began = time.perf_counter()
                async with StallWatch() as watch:
                    await compute()
                times["compute"].append(time.perf_counter() - began)
                stalls["compute"].append(watch.longest)
                for fmt in ("csv", "json"):
                    got = await download(http, f"{base}/api/v1/reports/{kind}?{query}&format={fmt}")
                    times[fmt].append(got.seconds)
                    stalls[fmt].append(got.stall)
                    last[fmt] = got
            copy = min([await copy_rows(url, rows) for _ in range(3)])
            peaks = {"compute": await traced_peak(compute)}
            for fmt in ("csv", "json"):
                target = f"{base}/api/v1/reports/{kind}?{query}&format={fmt}"
                peaks[fmt] = await traced_peak(functools.partial(download, http, target))
            figures += _figures(kind, rows, times, stalls, last, peaks, copy)
    finally:
        await http.close()
    return figures


def _figures(
    kind: str,
    rows: int,
    times: dict[str, list[float]],
    stalls: dict[str, list[float]],
    last: dict[str, Download],
    peaks: dict[str, int],
    copy: float,
) -> list[Figure]:
    compute = statistics.median(times["compute"])
    name = "agent" if kind == "agents" else "queue"
    figures = [
        Figure(
            "postgresql",
            f"{name} report computed, p50 (baseline: COPY {rows:,} rows)",
            f"{compute * 1000:,.0f} ms",
            f"{copy * 1000:,.0f} ms",
            f"{compute / copy:.1f}x",
            f"< {REPORT_TARGET_SECONDS:.0f} s",
            compute < REPORT_TARGET_SECONDS,
        )
    ]
    for fmt in ("csv", "json"):
        took = statistics.median(times[fmt])
        got = last[fmt]
        figures += [
            Figure(
                "postgresql",
                f"{name} {fmt.upper()} {_mib(got.size)}, last byte p50",
                f"{took * 1000:,.0f} ms",
                f"{compute * 1000:,.0f} ms",
                f"{took / compute:.1f}x",
            ),
            Figure(
                "postgresql",
                f"{name} {fmt.upper()} peak allocations (tracemalloc)",
                _mib(peaks[fmt]),
                _mib(peaks["compute"]),
                f"{peaks[fmt] / peaks['compute']:.1f}x",
            ),
            Figure(
                "postgresql",
                f"{name} {fmt.upper()} longest event-loop stall, p50",
                f"{statistics.median(stalls[fmt]) * 1000:,.0f} ms",
                f"{statistics.median(stalls['compute']) * 1000:,.0f} ms",
                f"{statistics.median(stalls[fmt]) / statistics.median(stalls['compute']):.1f}x",
            ),
            Figure(
                "postgresql",
                f"{name} {fmt.upper()} peak RSS growth",
                _mib(got.rss_growth_kib * 1024),
                "-",
                "-",
            ),
        ]
    return figures


async def run(args: argparse.Namespace) -> list[Figure]:
    first, last = seeder.FIRST_MONTH
    month = parse_period(first, last, "15min", seeder.TZ)
    async with seeded_month(args) as url, console(url) as (server, base):
        return await measure(server, base, url, month, args.samples)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures = asyncio.run(run(args))
    print_figures(
        f"report exports, month by 15 min: {args.agents} agents, "
        f"{args.days} days x {args.calls_per_day} calls",
        figures,
    )
    return 0 if all(f.passed is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
