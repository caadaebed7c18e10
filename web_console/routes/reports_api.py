"""Reports over /api/v1/reports: queue and agent figures for any period, JSON or CSV.

``from`` and ``to`` are the hospital's local dates (inclusive), ``by`` the bucket
(15min, hour, day, week, month). A bad value is a 422 naming the field; a period with no
calls is a report of zeros. Agents get their own agent figures only; every CSV export is
audited (``format=csv``). The JSON and the CSV are sent a chunk of rows at a time
(web_console/report_stream.py): a month of agents by quarter hour is 150,000 rows.
"""

from __future__ import annotations

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction
from hcrm_core.services.audit import record_audit
from hcrm_core.services.reports_agents import agent_report
from hcrm_core.services.reports_appointments import appointment_report
from hcrm_core.services.reports_period import Period
from hcrm_core.services.reports_queues import queue_report
from web_console.access import STAFF, SUPERVISORS, actor_for, allow
from web_console.keys import DATABASE, SETTINGS
from web_console.report_stream import Table, stream_csv, stream_json
from web_console.report_views import (
    PERIOD_PARAMS,
    agent_table,
    agents_for,
    appointment_table,
    export_detail,
    names_from,
    period_from,
    period_json,
    queue_table,
    require_all,
    sl_seconds_from,
)
from web_console.views import only_params

routes = web.RouteTableDef()
QUEUES = "/api/v1/reports/queues"
AGENTS = "/api/v1/reports/agents"
APPOINTMENTS = "/api/v1/reports/appointments"


def wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationFailed("format", "json or csv")
    return fmt == "csv"


async def export_csv(
    request: web.Request, table: Table, name: str, period: Period, names: list[str] | None
) -> web.StreamResponse:
    """The table as a CSV download, with an audit row of who exported what (written before
    the first byte is sent, so a download the client gives up on is still audited)."""
    await record_audit(
        request.app[DATABASE],
        actor_for(request),
        AuditAction.EXPORT,
        "report",
        name,
        detail=export_detail(period, names, len(table.rows)),
    )
    filename = f"{name}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return await stream_csv(request, table, filename)


@routes.get(QUEUES)
@allow(SUPERVISORS)
async def queues_report(request: web.Request) -> web.StreamResponse:
    only_params(request, PERIOD_PARAMS | {"queue", "sl_seconds", "format"})
    require_all(request, "queue reports")
    as_csv = wants_csv(request)
    period = period_from(request.query, request.app[SETTINGS].tz)
    names = names_from(request, "queue")
    report = await queue_report(
        request.app[DATABASE], period, queues=names, sl_seconds=sl_seconds_from(request)
    )
    table = queue_table(report)
    if as_csv:
        return await export_csv(request, table, "queues", period, names)
    head = {
        "period": period_json(period),
        "sl_seconds": report.sl_seconds,
        "totals": {line.queue: line.total.as_dict() for line in report.queues},
    }
    return await stream_json(request, head, table)


@routes.get(AGENTS)
@allow(STAFF)
async def agents_report(request: web.Request) -> web.StreamResponse:
    only_params(request, PERIOD_PARAMS | {"agent", "format"})
    as_csv = wants_csv(request)
    period = period_from(request.query, request.app[SETTINGS].tz)
    names = agents_for(request)
    report = await agent_report(request.app[DATABASE], period, agents=names)
    table = agent_table(report)
    if as_csv:
        return await export_csv(request, table, "agents", period, names)
    head = {
        "period": period_json(period),
        "totals": {line.username: line.total.as_dict() for line in report.agents},
    }
    return await stream_json(request, head, table)


@routes.get(APPOINTMENTS)
@allow(SUPERVISORS)
async def appointments_report(request: web.Request) -> web.StreamResponse:
    only_params(request, PERIOD_PARAMS | {"format"})
    as_csv = wants_csv(request)
    period = period_from(request.query, request.app[SETTINGS].tz)
    report = await appointment_report(request.app[DATABASE], period)
    table = appointment_table(report)
    if as_csv:
        return await export_csv(request, table, "appointments", period, None)
    head = {"period": period_json(period), "totals": report.total.as_dict()}
    return await stream_json(request, head, table)
