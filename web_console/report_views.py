"""Reports as the console shows them: the request's period and filters, who may see what,
and every table as columns and rows (one shape for the page, the JSON API and CSV).

Agents see their own figures only (the agent table, filtered to themselves); supervisors and
admins see every queue and agent. Durations are seconds in the API and CSV, ``h:mm:ss`` on the
page; bucket starts are ISO 8601 in the hospital's zone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from hcrm_core.errors import DomainError, ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services.reports_agents import TIMED_STATES, AgentReport
from hcrm_core.services.reports_appointments import CHANNELS, AppointmentReport
from hcrm_core.services.reports_period import Period, parse_period
from hcrm_core.services.reports_queues import DEFAULT_SL_SECONDS, QueueReport
from web_console.access import require_session
from web_console.labels import label
from web_console.views import ascii_int

PERIOD_PARAMS = {"from", "to", "by"}
MAX_SL_SECONDS = 600


class ReportForbidden(DomainError):
    code = "forbidden"
    http_status = 403


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a report: column keys, their headings, rows of plain values."""

    columns: list[str]
    headings: list[str]
    rows: list[list[Any]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_csv_safe(h) for h in self.headings])
        for row in self.rows:
            writer.writerow(["" if v is None else _csv_safe(v) for v in row])
        return out.getvalue()


def _csv_safe(value: Any) -> Any:
    # A cell a spreadsheet would run as a formula (a pause reason typed by an agent).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def period_from(params: Mapping[str, str], tz: ZoneInfo) -> Period:
    """The period of ``from``, ``to`` and ``by`` in ``params`` (a request's query)."""
    return parse_period(params.get("from"), params.get("to"), params.get("by"), tz)


def sl_seconds_from(request: web.Request) -> int:
    raw = request.query.get("sl_seconds")
    if raw is None or raw == "":
        return DEFAULT_SL_SECONDS
    value = ascii_int(raw, max_digits=4)
    if value is None or not 1 <= value <= MAX_SL_SECONDS:
        raise ValidationFailed("sl_seconds", f"a whole number of seconds, 1 to {MAX_SL_SECONDS}")
    return value


def names_from(request: web.Request, field: str) -> list[str] | None:
    """``?queue=a&queue=b`` (or ``?queue=a,b``): the names asked for, None for all."""
    names = [n.strip() for raw in request.query.getall(field, []) for n in raw.split(",")]
    names = [n for n in names if n]
    for name in names:
        if len(name) > 64:
            raise ValidationFailed(field, "at most 64 characters")
    return names or None


def may_see_all(request: web.Request) -> bool:
    return require_session(request).role in (Role.SUPERVISOR, Role.ADMIN)


def require_all(request: web.Request, what: str) -> None:
    if not may_see_all(request):
        raise ReportForbidden(f"{what} are for supervisors; agents see their own figures")


def agents_for(request: web.Request) -> list[str] | None:
    """The agents a report may cover: an agent only themselves (asking for another: 403)."""
    asked = names_from(request, "agent")
    if may_see_all(request):
        return asked
    own = require_session(request).username
    if asked and asked != [own]:
        raise ReportForbidden("agents see their own figures only")
    return [own]


def period_json(period: Period) -> dict[str, Any]:
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "by": period.granularity.value,
        "timezone": period.tz.key,
    }


QUEUE_COLUMNS = [
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("abandoned", "Abandoned"),
    ("other", "Left otherwise"),
    ("abandoned_wait_average_seconds", "Abandoned after (avg s)"),
    ("service_level_percent", "Service level %"),
    ("asa_seconds", "ASA (s)"),
    ("handle_time_average_seconds", "Handle time (avg s)"),
    ("longest_wait_seconds", "Longest wait (s)"),
]


def queue_table(report: QueueReport) -> Table:
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
    return Table(columns, headings, rows)


def pause_reasons(report: AgentReport) -> list[str]:
    return sorted({r for line in report.agents for r in line.total.paused_by_reason})


def agent_table(report: AgentReport) -> Table:
    granularity = report.period.granularity
    reasons = pause_reasons(report)
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
    return Table(columns, headings, rows)


def appointment_columns() -> list[tuple[str, str]]:
    return [
        ("booked", "Booked"),
        *((f"booked_{c}", f"Booked: {label(c)}") for c in CHANNELS),
        ("cancelled", "Cancelled"),
        *((f"cancelled_{c}", f"Cancelled: {label(c)}") for c in CHANNELS),
        ("outcomes", "Took place or missed"),
        ("no_shows", "No-shows"),
        ("no_show_percent", "No-show %"),
        ("reminded_outcomes", "Reminded"),
        ("reminded_no_show_percent", "No-show % reminded"),
        ("not_reminded_outcomes", "Not reminded"),
        ("not_reminded_no_show_percent", "No-show % not reminded"),
    ]


def appointment_table(report: AppointmentReport) -> Table:
    granularity = report.period.granularity
    pairs = appointment_columns()
    rows: list[list[Any]] = []
    for bucket, figures in [
        *zip(report.buckets, report.per_bucket, strict=True),
        (None, report.total),
    ]:
        values = figures.as_dict()
        start = bucket.local_start.isoformat() if bucket else ""
        name = bucket.label(granularity) if bucket else "Total"
        rows.append([start, name] + [values[key] for key, _ in pairs])
    return Table(
        ["bucket_start", "bucket", *(key for key, _ in pairs)],
        ["Start", "Period", *(title for _, title in pairs)],
        rows,
    )


def table_json(table: Table) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def csv_response(table: Table, filename: str) -> web.Response:
    return web.Response(
        text=table.csv(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_detail(period: Period, names: Sequence[str] | None, rows: int) -> dict[str, Any]:
    return {**period_json(period), "names": list(names or []), "rows": rows}
