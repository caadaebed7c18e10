"""``/healthz`` for load balancers and operators, ``/metrics`` in Prometheus text format."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import text

from web_console.access import SUPERVISORS, current_session, public
from web_console.deps import HealthSource
from web_console.keys import (
    AGI_HEALTH,
    AMI_HEALTH,
    BUS,
    CALL_LOG,
    DATABASE,
    LEADERSHIP_HEALTH,
    RECORDINGS_HEALTH,
    RELAY_HEALTH,
)

routes = web.RouteTableDef()
_LOG = logging.getLogger(__name__)
_STARTED = time.time()


async def _database_ok(request: web.Request) -> tuple[bool, str | None]:
    try:
        async with request.app[DATABASE].session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy"; the reason is reported
        _LOG.warning("health check: database unavailable: %s", type(exc).__name__)
        return False, type(exc).__name__
    return True, None


def _part(ok: bool) -> str:
    return "ok" if ok else "down"


@routes.get("/healthz")
@public
async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers; the AMI link and FastAGI are reported but do not fail it.

    The console stays useful (search, booking) while the PBX is away, so a missing Asterisk
    is "degraded", not "down". Anyone may ask, so the public answer names only the parts and
    whether each is up: the AMI user, the PBX's address and error texts are for supervisors
    and admins (the same route with their session) and never for an anonymous caller.
    """
    db_ok, db_error = await _database_ok(request)
    ami = request.app[AMI_HEALTH].health()
    agi = request.app[AGI_HEALTH].health()
    recordings = request.app[RECORDINGS_HEALTH].health()
    parts = {
        "database": _part(db_ok),
        "ami": _part(bool(ami["connected"])),
        "agi": _part(bool(agi.get("listening"))),
        # Down when the processor refused to start (recording.key missing or wrong).
        "recordings": _part(recordings.get("error") is None),
    }
    status = "down" if not db_ok else ("ok" if "down" not in parts.values() else "degraded")
    body: dict[str, Any] = {"status": status, "parts": parts}
    leadership = _leadership(request)
    if leadership is not None:
        # Public: a load balancer or an operator may want to know which process leads.
        body["cluster"] = {"leader": leadership["leader"], "epoch": leadership["epoch"]}
    session = current_session(request)
    if session is not None and session.role in SUPERVISORS:
        body["details"] = {
            "database": {"ok": db_ok, "engine": request.app[DATABASE].dialect, "error": db_error},
            "ami": {
                "state": ami["state"],
                "connected": ami["connected"],
                "asterisk_ready": ami["asterisk_ready"],
                "last_error": ami["last_error"],
            },
            "agi": agi,
            "recordings": dict(recordings),
            "uptime_seconds": round(time.time() - _STARTED, 1),
        }
    return web.json_response(body, status=200 if db_ok else 503)


def _leadership(request: web.Request) -> Mapping[str, Any] | None:
    source = request.app.get(LEADERSHIP_HEALTH)
    return None if source is None else source.health()


_RELAY_COUNTERS = (
    ("sent", "events this process relayed to the others"),
    ("send_failed", "writes of events for the others that failed (database away; retried)"),
    ("dropped", "events for the others given up (over the pending limit, or refused)"),
    ("received", "events from other processes published here"),
    ("caught_up", "of those, read back after the listening connection was lost"),
    ("reconnects", "times the listening connection was lost and opened again"),
)


def _relay_metrics(lines: list[str], source: HealthSource | None) -> None:
    """The event relay between processes (docs/scale.md); nothing on SQLite."""
    relay = None if source is None else source.health()
    if relay is None or not relay.get("enabled"):
        return
    _metric(
        lines,
        "callcenter_relay_listening",
        1 if relay["listening"] else 0,
        "1 while this process listens for the other processes' events",
    )
    _metric(
        lines,
        "callcenter_relay_pending",
        relay["pending"],
        "events for the others kept until the database answers again",
    )
    for key, help_text in _RELAY_COUNTERS:
        _metric(lines, f"callcenter_relay_{key}_total", relay[key], help_text, "counter")


def _metric(lines: list[str], name: str, value: float, help_text: str, kind: str = "gauge") -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")
    lines.append(f"{name} {value}")


@routes.get("/metrics")
@public
async def metrics(request: web.Request) -> web.Response:
    ami = request.app[AMI_HEALTH].health()
    counters = ami.get("counters", {})
    lines: list[str] = []
    _metric(
        lines,
        "callcenter_ami_connected",
        1 if ami["connected"] else 0,
        "1 when the AMI session is logged in",
    )
    _metric(
        lines,
        "callcenter_asterisk_ready",
        1 if ami["asterisk_ready"] else 0,
        "1 when Asterisk is fully booted and originating is allowed",
    )
    for key, value in sorted(counters.items()):
        if isinstance(value, int | float):
            _metric(lines, f"callcenter_ami_{key}_total", value, f"AMI {key}", "counter")
    dropped = sum(s.dropped for s in request.app[BUS].stats())
    _metric(
        lines,
        "callcenter_bus_dropped_events_total",
        dropped,
        "events dropped by slow bus subscribers",
        "counter",
    )
    agi = request.app[AGI_HEALTH].health()
    for reason in ("peer", "busy", "route"):
        refused = agi.get(f"refused_{reason}", 0)
        if isinstance(refused, int):
            _metric(
                lines,
                f"callcenter_agi_refused_{reason}_total",
                refused,
                f"FastAGI connections closed before a dialog ran ({reason})",
                "counter",
            )
    call_log = request.app[CALL_LOG]
    _metric(
        lines,
        "callcenter_call_log_pending_rows",
        call_log.pending,
        "call and event rows waiting to be written",
    )
    _metric(
        lines,
        "callcenter_call_log_write_failures_total",
        call_log.failures,
        "call log batches that failed and were kept for a retry",
        "counter",
    )
    _metric(
        lines,
        "callcenter_call_log_refused_rows_total",
        call_log.rejected,
        "call log rows the database refused for good (logged with their call)",
        "counter",
    )
    leadership = _leadership(request)
    if leadership is not None:
        _metric(
            lines,
            "callcenter_cluster_leader",
            1 if leadership["leader"] else 0,
            "1 while this process leads (dials, places callbacks, runs the nightly jobs)",
        )
        _metric(
            lines,
            "callcenter_cluster_epoch",
            leadership["epoch"] or 0,
            "the leadership epoch this process last won (0: never, or SQLite)",
        )
    _relay_metrics(lines, request.app.get(RELAY_HEALTH))
    db_ok, _ = await _database_ok(request)
    _metric(lines, "callcenter_database_up", 1 if db_ok else 0, "1 when the database answers")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
