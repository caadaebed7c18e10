"""The report pages, /reports: queue and agent figures for any period, charts and CSV.

Supervisors and admins see every queue and agent; an agent sees their own figures only.
Bad input (``from`` after ``to``, a period too long for its bucket, an unknown queue) comes
back on the page with the message beside its field. Each table downloads as CSV from
``/reports/queues.csv`` and ``/reports/agents.csv`` (audited as exports).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.reports_agents import TIMED_STATES, AgentReport, agent_report
from hcrm_core.services.reports_appointments import (
    CHANNELS,
    AppointmentReport,
    appointment_report,
)
from hcrm_core.services.reports_period import Granularity, Period
from hcrm_core.services.reports_queues import QueueReport, known_queues, queue_report
from web_console.access import STAFF, allow
from web_console.keys import DATABASE, SETTINGS
from web_console.labels import label
from web_console.pages import render
from web_console.report_charts import Series, stacked_columns
from web_console.report_views import (
    agent_table,
    agents_for,
    appointment_table,
    may_see_all,
    names_from,
    pause_reasons,
    period_from,
    queue_table,
    require_all,
    sl_seconds_from,
)
from web_console.routes.reports_api import export_csv
from web_console.views import only_params

routes = web.RouteTableDef()
PAGE = "/reports"
_PARAMS = {"from", "to", "by", "queue", "agent", "sl_seconds"}
_STATE_COLOURS = {
    "ready": "#2e7d32",
    "paused": "#f9a825",
    "ringing": "#6a1b9a",
    "on_call": "#1565c0",
    "wrap_up": "#00838f",
}


def duration(seconds: float | None) -> str:
    """``1:05:09`` (hours:minutes:seconds); empty for no value."""
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _query_with_defaults(request: web.Request, today: date) -> dict[str, str]:
    query = {k: request.query[k] for k in ("from", "to", "by") if request.query.get(k)}
    query.setdefault("from", (today - timedelta(days=6)).isoformat())
    query.setdefault("to", today.isoformat())
    query.setdefault("by", Granularity.DAY.value)
    return query


@routes.get(PAGE)
@allow(STAFF)
async def reports_page(request: web.Request) -> web.Response:
    only_params(request, _PARAMS)
    settings = request.app[SETTINGS]
    database = request.app[DATABASE]
    today = datetime.now(settings.tz).date()
    query = _query_with_defaults(request, today)
    supervisor = may_see_all(request)
    context: dict[str, Any] = {
        "query": query,
        "granularities": [g.value for g in Granularity],
        "supervisor": supervisor,
        "queue_names": sorted((await known_queues(database)).items()) if supervisor else [],
        "chosen_queues": names_from(request, "queue") or [],
        "chosen_agent": request.query.get("agent", ""),
        "sl_seconds": request.query.get("sl_seconds", ""),
        "error": None,
        "csv_query": urlencode([*query.items(), *_filters(request)]),
        "duration": duration,
    }
    try:
        period = period_from(query, settings.tz)
        if supervisor:
            queues = await queue_report(
                database,
                period,
                queues=names_from(request, "queue"),
                sl_seconds=sl_seconds_from(request),
            )
            context["queues"] = _queue_view(queues)
            context["appointments"] = _appointment_view(await appointment_report(database, period))
        agents = await agent_report(database, period, agents=agents_for(request))
        context["agents"] = _agent_view(agents)
        context["period"] = period
    except ValidationFailed as exc:
        context["error"] = {"field": exc.field, "message": exc.message}
        return render(request, "reports.html", context, status=422)
    return render(request, "reports.html", context)


def _queue_view(report: QueueReport) -> dict[str, Any]:
    labels = [b.label(report.period.granularity) for b in report.buckets]
    summed = {
        "answered": [0.0] * len(labels),
        "abandoned": [0.0] * len(labels),
        "other": [0.0] * len(labels),
    }
    for line in report.queues:
        for i, figures in enumerate(line.buckets):
            summed["answered"][i] += figures.answered
            summed["abandoned"][i] += figures.abandoned
            summed["other"][i] += figures.other
    chart = stacked_columns(
        "Calls offered per period: answered, abandoned, left otherwise",
        labels,
        [
            Series("Answered", "#2e7d32", summed["answered"]),
            Series("Abandoned", "#c62828", summed["abandoned"]),
            Series("Left otherwise", "#9e9e9e", summed["other"]),
        ],
    )
    return {
        "chart": chart,
        "totals": [(line.queue, line.display_name, line.total) for line in report.queues],
        "table": queue_table(report),
        "sl_seconds": report.sl_seconds,
    }


def _agent_view(report: AgentReport) -> dict[str, Any]:
    # The chart leaves out agents who were not signed in (the table still lists them).
    active = [line for line in report.agents if line.total.signed_in > 0]
    chart = stacked_columns(
        "Hours per agent by state",
        [line.display_name or line.username for line in active],
        [
            Series(label(s), _STATE_COLOURS[s], [line.total.seconds[s] for line in active])
            for s in TIMED_STATES
        ],
        unit=" h",
        scale=3600.0,
        whole=False,
    )
    return {
        "chart": chart if active else None,
        "lines": report.agents,
        "states": [(s, label(s)) for s in TIMED_STATES],
        "reasons": pause_reasons(report),
        # No per-bucket table on the page (its CSV has it): by quarter hour over a month it
        # would be 150,000 rows made for nothing.
    }


_CHANNEL_COLOURS = {"ivr": "#1565c0", "agent": "#2e7d32", "web": "#6a1b9a", "outbound": "#ef6c00"}


def _appointment_view(report: AppointmentReport) -> dict[str, Any]:
    labels = [b.label(report.period.granularity) for b in report.buckets]
    chart = stacked_columns(
        "Appointments booked per period, by channel",
        labels,
        [
            Series(
                f"Booked: {label(c)}", _CHANNEL_COLOURS[c], [f.booked[c] for f in report.per_bucket]
            )
            for c in CHANNELS
        ],
    )
    return {
        "chart": chart if sum(report.total.booked.values()) else None,
        "total": report.total.as_dict(),
        "table": appointment_table(report),
    }


@routes.get(PAGE + "/appointments.csv")
@allow(STAFF)
async def appointments_csv(request: web.Request) -> web.StreamResponse:
    only_params(request, _PARAMS - {"agent", "queue", "sl_seconds"})
    require_all(request, "appointment reports")
    period = _period(request)
    report = await appointment_report(request.app[DATABASE], period)
    return await export_csv(request, appointment_table(report), "appointments", period, None)


@routes.get(PAGE + "/queues.csv")
@allow(STAFF)
async def queues_csv(request: web.Request) -> web.StreamResponse:
    only_params(request, _PARAMS - {"agent"})
    require_all(request, "queue reports")
    period = _period(request)
    names = names_from(request, "queue")
    report = await queue_report(
        request.app[DATABASE], period, queues=names, sl_seconds=sl_seconds_from(request)
    )
    return await export_csv(request, queue_table(report), "queues", period, names)


@routes.get(PAGE + "/agents.csv")
@allow(STAFF)
async def agents_csv(request: web.Request) -> web.StreamResponse:
    only_params(request, _PARAMS)
    period = _period(request)
    names = agents_for(request)
    report = await agent_report(request.app[DATABASE], period, agents=names)
    return await export_csv(request, agent_table(report), "agents", period, names)


def _period(request: web.Request) -> Period:
    return period_from(request.query, request.app[SETTINGS].tz)


def _filters(request: web.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query.items() if k in ("queue", "agent", "sl_seconds")]
