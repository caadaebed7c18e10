"""Helpers shared by the benchmark scripts: scratch databases, percentiles, result tables."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

PG_URL_ENV = "CALLCENTER_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1/postgres"


def default_pg_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


@asynccontextmanager
async def scratch_database(engine: str, pg_url: str) -> AsyncIterator[str]:
    """Yield the URL of a new, empty database that is removed afterwards.

    SQLite: a file in a temporary directory. PostgreSQL: a ``bench_*`` database created next
    to the one ``pg_url`` names (which only serves to connect) and dropped at the end.
    """
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench_") as directory:
            yield f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        return
    server = make_url(pg_url)
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    """A TCP port free on the loopback just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def paced(count: int, rate: float) -> AsyncIterator[int]:
    """0 to ``count - 1``, the n-th at n / ``rate`` s after the first: a steady rate that a
    slow step does not shift (the next comes sooner)."""
    loop = asyncio.get_running_loop()
    gap = 1.0 / rate
    started = loop.time()
    for n in range(count):
        yield n
        await asyncio.sleep(max(0.0, started + (n + 1) * gap - loop.time()))


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method; samples need not be sorted."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def progress_printer(label: str, step: float = 0.1) -> Callable[[float], None]:
    """A progress callback that prints one line each time another ``step`` is done."""
    started = time.perf_counter()
    shown = [-1.0]

    def report(fraction: float) -> None:
        if fraction - shown[0] >= step or (fraction >= 1.0 > shown[0]):
            shown[0] = fraction
            elapsed = time.perf_counter() - started
            print(f"  {label}: {fraction:4.0%} ({elapsed:5.1f} s)", flush=True)

    return report


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of a result table: the measured value, its same-run baseline, and the target."""

    engine: str
    measure: str
    value: str
    baseline: str
    ratio: str
    target: str = "-"
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return "-" if self.passed is None else ("PASS" if self.passed else "FAIL")


def print_figures(title: str, figures: Sequence[Figure]) -> None:
    header = ("engine", "measure", "service", "baseline", "ratio", "target", "result")
    rows = [header] + [
        (f.engine, f.measure, f.value, f.baseline, f.ratio, f.target, f.verdict) for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))
