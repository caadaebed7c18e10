"""The FastAGI side of ``benchmarks/ivr_load.py``: the IVR routes in their own process.

``python -m benchmarks._ivr_serve DB_URL STATS_FILE [--profile FILE]`` serves the routes as
``callcenter serve`` does (uvloop, start-up objects frozen out of the garbage collector) until
SIGTERM, then writes to ``STATS_FILE`` the AGI round trips, the event loop's lag (how late a
2 ms timer fired: time the loop spent on something else) and when the slow commands happened.
``--profile`` also runs cProfile over the calls (diagnosis only: it slows everything down).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import signal
import time
from datetime import UTC
from pathlib import Path

import uvloop

from benchmarks._common import percentile
from callcenter.agi.transport import IMMEDIATE_VERBS, AgiLatency
from callcenter.bus import EventBus
from callcenter.settings import AgiSettings
from hcrm_core.db import Database
from hcrm_core.policy import BookingPolicy
from hcrm_core.services.patients import PatientService
from hcrm_core.services.scheduling import SchedulingService

# A 5 ms probe sees every stall that matters to a 20 ms target and costs the server about
# 0.005 CPU s per call of this benchmark (included in its CPU figure).
LAG_TICK = 0.005
SLOW_MS = 15.0


class TimedLatency(AgiLatency):
    """Also remembers when each slow immediate command was sent: (perf_counter, verb, s)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None
        self.slow: list[tuple[float, str, float]] = []

    def record(self, verb: str, seconds: float) -> None:
        super().record(verb, seconds)
        sent = time.perf_counter() - seconds
        self.first = sent if self.first is None else min(self.first, sent)
        if verb in IMMEDIATE_VERBS and seconds * 1000 >= SLOW_MS:
            self.slow.append((sent, verb, seconds))


def attribute(
    slow: list[tuple[float, str, float]], lags: list[tuple[float, float]], start: float
) -> list[tuple[float, str, float, float]]:
    """Each slow command with how long our loop was stalled while it waited: (sent, s since
    the first command; verb; round trip ms; loop stall ms). The rest is Asterisk's time (and
    the machine's: a process not scheduled stalls its loop too, so it counts as ours)."""
    rows = []
    for sent, verb, seconds in slow:
        replied = sent + seconds
        # A probe that woke ``lag`` ms late saw the loop busy from its due time until then.
        stalled = sum(
            max(0.0, min(replied, due + lag / 1000) - max(sent, due)) * 1000
            for due, lag in ((before + LAG_TICK, lag) for before, lag in lags)
        )
        rows.append((round(sent - start, 3), verb, round(seconds * 1000, 1), round(stalled, 1)))
    return rows


class GcPauses:
    """Garbage collection pauses (ms) while serving."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, int]] = []  # ms, generation, objects collected
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._began) * 1000
            self.pauses.append((ms, info["generation"], info["collected"]))

    def summary(self) -> dict[str, object]:
        worst = max(self.pauses, default=(0.0, 0, 0))
        return {
            "count": len(self.pauses),
            "full": sum(1 for _, generation, _ in self.pauses if generation == 2),
            "max_ms": round(worst[0], 1),
            "max_generation": worst[1],
            "total_ms": round(sum(ms for ms, _, _ in self.pauses), 1),
        }


async def watch_lag(samples: list[tuple[float, float]]) -> None:
    """How late each ``LAG_TICK`` sleep wakes up: (when, lag in ms)."""
    # perf_counter, not loop.time(): uvloop's clock has a millisecond resolution.
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_TICK)
        samples.append((before, (time.perf_counter() - before - LAG_TICK) * 1000))


def lag_summary(samples: list[tuple[float, float]], start: float | None) -> dict[str, object]:
    lags = [lag for _, lag in samples]
    worst = sorted(samples, key=lambda s: -s[1])[:10]
    return {
        "p50": round(percentile(lags, 50), 2),
        "p99": round(percentile(lags, 99), 2),
        "max": round(max(lags, default=0.0), 2),
        "over_10ms": sum(1 for lag in lags if lag > 10),
        "worst": [(round(at - (start or at), 3), round(lag, 1)) for at, lag in worst],
    }


async def serve(url: str, stats_file: Path, profile: Path | None) -> None:
    """The IVR routes on FastAGI until SIGTERM; then the figures to ``stats_file``."""
    from callcenter.agi.server import FastAgiServer
    from callcenter.ivr.plugin import build_routes
    from hcrm_core.services.appointments import AppointmentService

    database = Database(url)
    policy = BookingPolicy(timezone=UTC)
    bus = EventBus()
    patients, scheduling = PatientService(database, policy), SchedulingService(database, policy)
    routes = build_routes(
        bus,
        patients=patients,
        scheduling=scheduling,
        appointments=AppointmentService(database, policy),
        timezone="UTC",
    )
    # A running server has its connections open and its statements compiled: warm them as
    # `callcenter serve` does at start-up and the way the first call would, so the figures are
    # the steady state, not the first second.
    await database.warm_up()
    await patients.find_by_phone("+12125550000")
    for department in await scheduling.list_departments():
        await scheduling.next_free_slots(department_id=department.id, limit=3)
    server = FastAgiServer(AgiSettings(port=0), routes)
    latency = server.latency = TimedLatency()
    await server.start()
    gc.freeze()  # as `callcenter serve` does after start-up
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    lags: list[tuple[float, float]] = []
    watcher = asyncio.create_task(watch_lag(lags))
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(server.port, flush=True)
    await stop.wait()
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    watcher.cancel()
    await server.stop()
    start = latency.first or 0.0
    stats = {
        "immediate": latency.immediate(),
        "verbs": latency.verbs(),
        "slowest": {
            verb: round(max(latency.samples([verb])) * 1000, 2) for verb in latency.verbs()
        },
        "slow_commands": attribute(latency.slow, lags, start),
        "loop_lag": lag_summary([s for s in lags if s[0] >= start], start),
        "gc": pauses.summary(),
        "sessions": server.sessions_started,
        "failed": server.sessions_failed,
    }
    await asyncio.to_thread(stats_file.write_text, json.dumps(stats))
    await bus.close()
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url")
    parser.add_argument("stats_file", type=Path)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    uvloop.run(serve(args.url, args.stats_file, args.profile))


if __name__ == "__main__":
    main()
