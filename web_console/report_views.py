"""Reports as the console shows them: the request's period and filters, who may see what,
and every table as columns and rows (one shape for the page, the JSON API and CSV).

Agents see their own figures only (the agent table, filtered to themselves); supervisors and
admins see every queue and agent. Durations are seconds in the API and CSV, ``h:mm:ss`` on the
page; bucket starts are ISO 8601 in the hospital's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload
from zoneinfo import ZoneInfo

from aiohttp import web

from hcrm_core.errors import DomainError, ValidationFailed
from hcrm_core.models import Role
from hcrm_core.services.reports_agents import NOTHING, TIMED_STATES, AgentFigures, AgentReport
from hcrm_core.services.reports_appointments import CHANNELS, AppointmentReport
from hcrm_core.services.reports_period import Bucket, Granularity, Period, parse_period
from hcrm_core.services.reports_queues import DEFAULT_SL_SECONDS, QueueFigures, QueueReport
from web_console.access import require_session
from web_console.labels import label
from web_console.report_stream import Table
from web_console.views import ascii_int

PERIOD_PARAMS = {"from", "to", "by"}
MAX_SL_SECONDS = 600


class ReportForbidden(DomainError):
    code = "forbidden"
    http_status = 403


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


F = TypeVar("F")


class LineRows(Sequence[list[Any]], Generic[F]):
    """The rows of a table of lines by bucket (a queue's, an agent's), made as they are read:
    each line's buckets, then its total. A month of 50 agents by quarter hour is 150,000 rows,
    and most of an agent's buckets hold nothing: a bucket's start and label are made once for
    all the lines, the cells of ``empty`` (the figures those buckets share) once."""

    __slots__ = ("_cells", "_empty", "_empty_cells", "_lines", "_starts")

    def __init__(
        self,
        buckets: Sequence[Bucket],
        granularity: Granularity,
        lines: Sequence[tuple[str, Sequence[F], F]],
        cells: Callable[[F], list[Any]],
        empty: F | None = None,
    ) -> None:
        """``lines``: each line's name, its figures per bucket and its total; ``cells``: a
        row's cells after the bucket's start, its label and the line's name."""
        self._starts = [(b.local_start.isoformat(), b.label(granularity)) for b in buckets]
        self._lines = lines
        self._cells = cells
        self._empty = empty
        self._empty_cells = cells(empty) if empty is not None else []

    def __len__(self) -> int:
        return len(self._lines) * (len(self._starts) + 1)

    @overload
    def __getitem__(self, index: int) -> list[Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[Any]]: ...

    def __getitem__(self, index: int | slice) -> list[Any] | list[list[Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        line, at = divmod(index % len(self), len(self._starts) + 1)
        name, buckets, total = self._lines[line]
        if at == len(self._starts):
            return ["", "Total", name, *self._cells(total)]
        return [*self._starts[at], name, *self._cells(buckets[at])]

    def __iter__(self) -> Iterator[list[Any]]:
        cells, empty, empty_cells = self._cells, self._empty, self._empty_cells
        for name, buckets, total in self._lines:
            for (start, bucket), figures in zip(self._starts, buckets, strict=True):
                yield [start, bucket, name, *(empty_cells if figures is empty else cells(figures))]
            yield ["", "Total", name, *cells(total)]


def _queue_cells(figures: QueueFigures) -> list[Any]:
    values = figures.as_dict()
    return [values[key] for key, _ in QUEUE_COLUMNS]


def queue_table(report: QueueReport) -> Table:
    """Per queue: a row per bucket, then its total (rows made as they are read)."""
    columns = ["bucket_start", "bucket", "queue", *(key for key, _ in QUEUE_COLUMNS)]
    headings = ["Start", "Period", "Queue", *(title for _, title in QUEUE_COLUMNS)]
    lines = [(line.queue, line.buckets, line.total) for line in report.queues]
    rows = LineRows(report.buckets, report.period.granularity, lines, _queue_cells)
    return Table(columns, headings, rows, typed=(2,))


def pause_reasons(report: AgentReport) -> list[str]:
    return sorted({r for line in report.agents for r in line.total.paused_by_reason})


def _agent_cells(reasons: Sequence[str]) -> Callable[[AgentFigures], list[Any]]:
    """A row's figures, rounded as :meth:`AgentFigures.as_dict` rounds them."""

    def cells(figures: AgentFigures) -> list[Any]:
        seconds, by_reason = figures.seconds, figures.paused_by_reason
        times = [
            figures.signed_in,
            *[seconds[s] for s in TIMED_STATES],
            *[by_reason.get(r, 0.0) for r in reasons],
        ]
        average = figures.average_handle
        return [
            # round() is slow and most times in a quarter hour are whole seconds (0, 900).
            *[t if t.is_integer() else round(t, 1) for t in times],
            figures.calls_handled,
            None if average is None else round(average, 1),
        ]

    return cells


def agent_table(report: AgentReport) -> Table:
    """Per agent: a row per bucket, then their total (rows made as they are read)."""
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
    lines = [(line.username, line.buckets, line.total) for line in report.agents]
    rows = LineRows(
        report.buckets, report.period.granularity, lines, _agent_cells(reasons), empty=NOTHING
    )
    return Table(columns, headings, rows, typed=(2,))


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


def csv_response(table: Table, filename: str) -> web.Response:
    return web.Response(
        text=table.csv(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_detail(period: Period, names: Sequence[str] | None, rows: int) -> dict[str, Any]:
    return {**period_json(period), "names": list(names or []), "rows": rows}
