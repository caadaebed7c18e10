"""The report pages beside /reports: /reports/ivr, /reports/campaigns and /reports/followups
(complaints and tasks), with their SVG charts, and every table's CSV download
(``/reports/<kind>.csv``, audited as an export).

The period form and its errors work as on /reports. IVR and campaign pages are for
supervisors and admins; on the follow-ups page an agent sees their own tasks only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.reports_campaigns import CampaignReport, campaign_report
from hcrm_core.services.reports_complaints import SEVERITIES, ComplaintReport, complaint_report
from hcrm_core.services.reports_ivr import IvrReport, ivr_report
from hcrm_core.services.reports_period import Granularity
from hcrm_core.services.reports_task_figures import SOURCES, TaskReport, task_report
from web_console.access import STAFF, SUPERVISORS, allow
from web_console.keys import DATABASE, SETTINGS
from web_console.labels import label
from web_console.pages import render
from web_console.report_charts import Series, stacked_columns
from web_console.report_more_views import (
    CAMPAIGN_NAMES,
    CHANNEL_NAMES,
    KIND_PATTERN,
    OUTCOME_NAMES,
    campaign_table,
    campaigns_from,
    category_table,
    complaint_table,
    ivr_steps_table,
    ivr_table,
    kind_for,
    owner_table,
    owners_for,
    task_table,
)
from web_console.report_views import may_see_all, period_from
from web_console.routes.reports_api import export_csv
from web_console.views import only_params

routes = web.RouteTableDef()
_PERIOD = {"from", "to", "by"}
_OUTCOME_COLOURS = {
    "contained": "#2e7d32",
    "to_agent": "#1565c0",
    "hung_up": "#c62828",
    "ongoing": "#9e9e9e",
}
_ATTEMPT_COLOURS = {
    "completed": "#2e7d32",
    "to_agent": "#1565c0",
    "opted_out": "#6a1b9a",
    "hung_up": "#ef6c00",
    "machine": "#8d6e63",
    "no_answer": "#9e9e9e",
    "busy": "#f9a825",
    "failed": "#c62828",
}
_SEVERITY_COLOURS = {
    "low": "#90a4ae",
    "medium": "#f9a825",
    "high": "#ef6c00",
    "critical": "#c62828",
}
_TASK_COLOURS = {
    "done": "#2e7d32",
    "cannot_reach": "#ef6c00",
    "cancelled": "#9e9e9e",
    "open": "#1565c0",
}


def _query_with_defaults(request: web.Request, today: date) -> dict[str, str]:
    """The period asked for, else the last seven days by day (as on /reports)."""
    query = {k: request.query[k] for k in ("from", "to", "by") if request.query.get(k)}
    query.setdefault("from", (today - timedelta(days=6)).isoformat())
    query.setdefault("to", today.isoformat())
    query.setdefault("by", Granularity.DAY.value)
    return query


async def _page(request: web.Request, template: str, extra: set[str], fill: Any) -> web.Response:
    """The shared part of every page: the period form, its defaults and its errors."""
    only_params(request, _PERIOD | extra)
    settings = request.app[SETTINGS]
    query = _query_with_defaults(request, datetime.now(settings.tz).date())
    filters = [(k, v) for k, v in request.query.items() if k in extra]
    context: dict[str, Any] = {
        "query": query,
        "granularities": [g.value for g in Granularity],
        "supervisor": may_see_all(request),
        "error": None,
        "action": request.path,
        "csv_query": urlencode([*query.items(), *filters]),
    }
    try:
        period = period_from(query, settings.tz)
        context.update(await fill(request, period))
        context["period"] = period
    except ValidationFailed as exc:
        context["error"] = {"field": exc.field, "message": exc.message}
        return render(request, template, context, status=422)
    return render(request, template, context)


@routes.get("/reports/ivr")
@allow(SUPERVISORS)
async def ivr_page(request: web.Request) -> web.Response:
    async def fill(request: web.Request, period: Any) -> dict[str, Any]:
        return {"ivr": _ivr_view(await ivr_report(request.app[DATABASE], period))}

    return await _page(request, "reports_ivr.html", set(), fill)


def _ivr_view(report: IvrReport) -> dict[str, Any]:
    labels = [b.label(report.period.granularity) for b in report.buckets]
    outcomes = stacked_columns(
        "Calls entering the phone menus per period, by what became of them",
        labels,
        [
            Series(OUTCOME_NAMES[o], colour, [f.outcomes[o] for f in report.per_bucket])
            for o, colour in _OUTCOME_COLOURS.items()
        ],
    )
    top = [s for s in report.steps if s.total_hung_up][:12]
    steps = stacked_columns(
        "Where callers hung up in the menus (menu step)",
        [s.step for s in top],
        [Series("Hung up here", "#c62828", [s.total_hung_up for s in top])],
    )
    return {
        "chart": outcomes if report.total.entered else None,
        "steps_chart": steps if top else None,
        "total": report.total.as_dict(),
        "steps": report.steps,
        "channels": CHANNEL_NAMES,
        "table": ivr_table(report),
        "steps_table": ivr_steps_table(report),
    }


@routes.get("/reports/campaigns")
@allow(SUPERVISORS)
async def campaigns_page(request: web.Request) -> web.Response:
    async def fill(request: web.Request, period: Any) -> dict[str, Any]:
        ids = campaigns_from(request)
        report = await campaign_report(request.app[DATABASE], period, campaign_ids=ids)
        return {"campaigns": _campaign_view(report)}

    return await _page(request, "reports_campaigns.html", {"campaign"}, fill)


def _campaign_view(report: CampaignReport) -> dict[str, Any]:
    chart = stacked_columns(
        "Calls dialled per campaign, by outcome",
        [line.name for line in report.campaigns],
        [
            Series(CAMPAIGN_NAMES[o], colour, [line.total.counts[o] for line in report.campaigns])
            for o, colour in _ATTEMPT_COLOURS.items()
        ],
    )
    return {
        "chart": chart if report.campaigns else None,
        "lines": report.campaigns,
        "names": CAMPAIGN_NAMES,
        "table": campaign_table(report),
    }


@routes.get("/reports/followups")
@allow(STAFF)
async def followups_page(request: web.Request) -> web.Response:
    async def fill(request: web.Request, period: Any) -> dict[str, Any]:
        database = request.app[DATABASE]
        owners = owners_for(request)
        context = {"tasks": _task_view(await task_report(database, period, owners=owners))}
        if may_see_all(request):
            context["complaints"] = _complaint_view(await complaint_report(database, period))
        return context

    return await _page(request, "reports_followups.html", {"owner"}, fill)


def _complaint_view(report: ComplaintReport) -> dict[str, Any]:
    chart = stacked_columns(
        "Complaints received per period, by severity",
        [b.label(report.period.granularity) for b in report.buckets],
        [
            Series(label(s), _SEVERITY_COLOURS[s], [f.by_severity[s] for f in report.per_bucket])
            for s in SEVERITIES
        ],
    )
    return {
        "chart": chart if report.total.received else None,
        "total": report.total.as_dict(),
        "table": complaint_table(report),
        "categories": category_table(report),
    }


def _task_view(report: TaskReport) -> dict[str, Any]:
    def count(figures: Any, what: str) -> int:
        return int(getattr(figures, what))

    chart = stacked_columns(
        "Tasks created per period, by what became of them",
        [b.label(report.period.granularity) for b in report.buckets],
        [
            Series(label(w), colour, [count(f, w) for f in report.per_bucket])
            for w, colour in _TASK_COLOURS.items()
        ],
    )
    return {
        "chart": chart if report.total.created else None,
        "total": report.total.as_dict(),
        "table": task_table(report),
        "owners": owner_table(report),
        "sources": SOURCES,
    }


@routes.get(f"/reports/{{kind:{KIND_PATTERN}}}.csv")
@allow(STAFF)
async def more_csv(request: web.Request) -> web.StreamResponse:
    name, kind = kind_for(request)
    only_params(request, _PERIOD | kind.params)
    period = period_from(request.query, request.app[SETTINGS].tz)
    computed = await kind.build(request, period)
    return await export_csv(request, computed.table, name, period, computed.names)
