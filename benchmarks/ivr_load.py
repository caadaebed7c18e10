"""IVR under load: concurrent simulated patients booking through the sandbox Asterisk.

Each simulated patient is a ``Local/s@sim-patient`` call originated into ``hospital-inbound``
(the production dialplan). A driver AMI session answers the IVR on cue (``AGIExecStart``):
the date of birth at ``GET DATA``, and each menu's key as soon as the menu starts playing (the
key interrupts it, as an impatient caller's would); the patient's ``;2`` half sends the keys
(``SIM_DIGITS`` set, then Redirected to ``sim-patient,s,1``, which runs ``SendDTMF``):
"book", a department, "first available", one of the three offered slots at random, "confirm".
A slot taken by another caller meanwhile is apologised for and the next ones are offered, as in
production.

Two runs on fresh scratch databases, the same patients:

- **FastAGI**: the server's routes in a separate process (``benchmarks._ivr_serve``), as
  ``callcenter serve`` runs them. Its CPU time is read from ``/proc/<pid>/stat`` just before
  the first call and after the last; it also reports the round trip of every AGI command
  (sent -> reply, measured inside the server by ``AgiLatency``), p50/p99 of the commands
  Asterisk answers at once, and the server's event loop lag.
- **Classic AGI**: the same dialog as ``callcenter-agi``, one process per call (pyst2 over
  stdin/stdout, relayed from the chroot: tests/support/classic_agi_bridge.py). CPU time is
  the reaped children's (``RUSAGE_CHILDREN``): start-up, imports, database connection and the
  dialog.

Checks after each run: every call booked exactly one appointment, all slots distinct, channel
``ivr``, ``booked_call_id`` the call's Linkedid. Targets: classic/FastAGI CPU per call >= 10x,
immediate-command p99 < 20 ms.

Run (root, the sandbox): ``.venv/bin/python -m benchmarks.ivr_load [--calls 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks._common import Figure, default_pg_url, percentile, print_figures, scratch_database
from benchmarks._ivr_sim import Patient, check_bookings, render_prompts, run_calls, seed
from callcenter.settings import Settings

CPU_RATIO_TARGET = 10.0
P99_TARGET_MS = 20.0
TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


async def run_fastagi(
    settings: Settings,
    url: str,
    patients: Sequence[Patient],
    rng: random.Random,
    ramp: float,
    profile: Path | None = None,
) -> dict[str, object]:
    stats_file = Path(tempfile.mkdtemp(prefix="ivrload_")) / "stats.json"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks._ivr_serve",
        url,
        str(stats_file),
        *(["--profile", str(profile)] if profile else []),
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    port = int((await server.stdout.readline()).decode())
    cpu_before = process_cpu(server.pid)
    target = f"agi://127.0.0.1:{port}"
    linkedids, seconds = await run_calls(settings, patients, target, rng, ramp)
    cpu = process_cpu(server.pid) - cpu_before
    server.terminate()
    await server.wait()
    stats = json.loads(stats_file.read_text())
    return {"linkedids": linkedids, "seconds": seconds, "cpu": cpu, **stats}


async def run_classic(
    settings: Settings, url: str, patients: Sequence[Patient], rng: random.Random, ramp: float
) -> dict[str, object]:
    from tests.support.classic_agi_bridge import children_cpu_seconds, classic_agi, classic_env

    env = classic_env(url, Path(tempfile.mkdtemp(prefix="ivrload_")))
    cpu_before = children_cpu_seconds()
    async with classic_agi(settings.asterisk.sandbox_dir / "root", env) as (spawner, agi_dir):
        linkedids, seconds = await run_calls(settings, patients, agi_dir, rng, ramp)
        await spawner.idle(60)
    return {
        "linkedids": linkedids,
        "seconds": seconds,
        "cpu": children_cpu_seconds() - cpu_before,
        "processes": spawner.started,
        "failed": sum(1 for code in spawner.exit_codes if code != 0),
    }


# -- the benchmark -----------------------------------------------------------------------------


async def run_mode(
    mode: str, settings: Settings, args: argparse.Namespace
) -> tuple[dict[str, object], list[str]]:
    rng = random.Random(args.seed)
    async with scratch_database(args.engine, args.pg_url) as url:
        patients = await seed(url, args.calls, args.departments, rng)
        await render_prompts(settings, url)
        print(f"  {mode}: {args.calls} calls ...", flush=True)
        if mode == "fastagi":
            result = await run_fastagi(settings, url, patients, rng, args.ramp, args.profile)
        else:
            result = await run_classic(settings, url, patients, rng, args.ramp)
        problems = await check_bookings(url, result["linkedids"], args.calls)  # type: ignore[arg-type]
    print(
        f"  {mode}: {result['seconds']:.0f} s, CPU {result['cpu']:.2f} s, "
        f"problems: {problems or 'none'}",
        flush=True,
    )
    return result, problems


async def main_async(args: argparse.Namespace) -> int:
    from callcenter.asterisk.sandbox import AsteriskSandbox
    from tests.support.asterisk_sandbox import _shared_by_sessions, sandbox_test_settings

    settings = sandbox_test_settings(Path(tempfile.mkdtemp(prefix="ivrload_")))
    sandbox = AsteriskSandbox(settings)
    # Held like a test session's: the last session to finish stops the shared Asterisk, and
    # this run counts as one.
    with _shared_by_sessions(sandbox.base):
        await asyncio.to_thread(sandbox.start)
        fast, fast_problems = await run_mode("fastagi", settings, args)
        if args.fastagi_only:
            return report_fastagi(fast, fast_problems, args)
        classic, classic_problems = await run_mode("classic", settings, args)
    calls = args.calls
    fast_cpu = float(fast["cpu"]) / calls  # type: ignore[arg-type]
    classic_cpu = float(classic["cpu"]) / calls  # type: ignore[arg-type]
    latencies = [s * 1000 for s in fast["immediate"]]  # type: ignore[attr-defined]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    ratio = classic_cpu / fast_cpu if fast_cpu else float("inf")
    figures = [
        Figure(
            args.engine,
            "CPU s per booking call",
            f"{fast_cpu:.3f}",
            f"{classic_cpu:.3f}",
            f"{ratio:.1f}x less",
            f">= {CPU_RATIO_TARGET:.0f}x",
            ratio >= CPU_RATIO_TARGET,
        ),
        Figure(args.engine, "AGI round trip p50 (ms)", f"{p50:.2f}", "-", "-"),
        Figure(
            args.engine,
            "AGI round trip p99 (ms)",
            f"{p99:.2f}",
            "-",
            "-",
            f"< {P99_TARGET_MS:.0f} ms",
            p99 < P99_TARGET_MS,
        ),
        Figure(
            args.engine,
            f"wall time, {calls} calls (s)",
            f"{fast['seconds']:.0f}",
            f"{classic['seconds']:.0f}",
            "-",
        ),
    ]
    print_figures(
        f"IVR load: {calls} concurrent booking calls; service = FastAGI server, "
        "baseline = classic AGI process per call",
        figures,
    )
    print(
        f"  immediate commands measured: {len(latencies)}; "
        f"FastAGI sessions {fast['sessions']} (failed {fast['failed']}); "
        f"classic processes {classic['processes']} (failed {classic['failed']})"
    )
    print_diagnosis(fast)
    ok = not fast_problems and not classic_problems and all(f.passed is not False for f in figures)
    return 0 if ok else 1


def print_diagnosis(fast: dict[str, object]) -> None:
    """Where the slow commands came from: the server's loop lag, and when they happened."""
    print(f"  commands {fast['verbs']}; slowest (ms) {fast['slowest']}")
    slow: list[list[object]] = fast["slow_commands"]  # type: ignore[assignment]
    ours = sum(float(row[3]) for row in slow)  # type: ignore[arg-type]
    total = sum(float(row[2]) for row in slow)  # type: ignore[arg-type]
    print(f"  FastAGI event loop lag (ms): {fast['loop_lag']}; GC: {fast['gc']}")
    print(
        f"  {len(slow)} immediate commands took >= 15 ms: {total:.0f} ms in all, of which the "
        f"server's loop was stalled at most {ours:.0f} ms; the rest waited on Asterisk"
    )
    print(f"  (s since first command, verb, ms, loop stall ms): {slow[:40]}")


def report_fastagi(fast: dict[str, object], problems: list[str], args: argparse.Namespace) -> int:
    latencies = [s * 1000 for s in fast["immediate"]]  # type: ignore[attr-defined]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    cpu = float(fast["cpu"]) / args.calls  # type: ignore[arg-type]
    figures = [
        Figure(args.engine, "CPU s per booking call", f"{cpu:.3f}", "-", "-"),
        Figure(args.engine, "AGI round trip p50 (ms)", f"{p50:.2f}", "-", "-"),
        Figure(
            args.engine,
            "AGI round trip p99 (ms)",
            f"{p99:.2f}",
            "-",
            "-",
            f"< {P99_TARGET_MS:.0f} ms",
            p99 < P99_TARGET_MS,
        ),
    ]
    print_figures(
        f"IVR load (FastAGI only): {args.calls} calls started over {args.ramp:.0f} s", figures
    )
    print_diagnosis(fast)
    return 0 if not problems and all(f.passed is not False for f in figures) else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--departments", type=int, default=8)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=default_pg_url())
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="spread the call starts over this many seconds"
    )
    parser.add_argument(
        "--fastagi-only", action="store_true", help="skip the classic AGI run (no CPU ratio)"
    )
    parser.add_argument(
        "--profile", type=Path, help="cProfile the FastAGI server into this file (diagnosis)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import uvloop

    args = parse_args(argv)
    return uvloop.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
