"""The IVR, campaign, complaint and task reports over /api/v1/reports/<kind>, JSON or CSV.

One route serves every kind of web_console/report_more_views.py (``ivr``, ``ivr-steps``,
``campaigns``, ``complaints``, ``complaint-categories``, ``tasks``, ``task-owners``), with
the period handling, the errors and the audited CSV export of the queue and agent reports.
"""

from __future__ import annotations

from aiohttp import web

from web_console.access import STAFF, allow
from web_console.keys import SETTINGS
from web_console.report_more_views import KIND_PATTERN, kind_for
from web_console.report_stream import stream_json
from web_console.report_views import PERIOD_PARAMS, period_from, period_json
from web_console.routes.reports_api import export_csv, wants_csv
from web_console.views import only_params

routes = web.RouteTableDef()
PATH = f"/api/v1/reports/{{kind:{KIND_PATTERN}}}"


@routes.get(PATH)
@allow(STAFF)
async def more_report(request: web.Request) -> web.StreamResponse:
    name, kind = kind_for(request)
    only_params(request, PERIOD_PARAMS | {"format"} | kind.params)
    as_csv = wants_csv(request)
    period = period_from(request.query, request.app[SETTINGS].tz)
    computed = await kind.build(request, period)
    if as_csv:
        return await export_csv(request, computed.table, name, period, computed.names)
    head = {"period": period_json(period), "totals": computed.totals}
    return await stream_json(request, head, computed.table)
