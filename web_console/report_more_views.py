"""The IVR, campaign, complaint and task reports as tables (one shape for the pages, the JSON
API and CSV), and the catalogue of those tables: what each computes and who may see it.

Each report kind is one table (``ivr``, ``ivr-steps``, ``campaigns``, ``complaints``,
``complaint-categories``, ``tasks``, ``task-owners``); the API, the CSV downloads and the
audit of exports go through :data:`KINDS`, one mechanism for all of them. Supervisors and
admins see every table; an agent sees only the task tables, limited to their own tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hcrm_core.errors import ValidationFailed
from hcrm_core.services.reports_campaigns import FIGURES, CampaignReport, campaign_report
from hcrm_core.services.reports_complaints import SEVERITIES, ComplaintReport, complaint_report
from hcrm_core.services.reports_ivr import CHANNELS, OUTCOMES, IvrReport, ivr_report
from hcrm_core.services.reports_period import Bucket, Period
from hcrm_core.services.reports_task_figures import SOURCES, TaskReport, task_report
from web_console.access import require_session
from web_console.keys import DATABASE
from web_console.labels import label
from web_console.report_views import (
    ReportForbidden,
    Table,
    may_see_all,
    names_from,
    require_all,
)
from web_console.views import ascii_int

CHANNEL_NAMES = {
    "ivr_keypad": "Phone menu, keys",
    "ivr_speech": "Phone menu, speech",
    "agent_on_call": "Agent, on a call",
    "agent": "Agent, no call",
    "web": "Web",
    "outbound": "Outbound call",
}
OUTCOME_NAMES = {
    "contained": "Contained (no agent)",
    "to_agent": "To an agent",
    "hung_up": "Hung up in the menus",
    "ongoing": "Still in the menus",
}
IVR_COLUMNS = [
    ("entered", "Entered the menus"),
    *((o, OUTCOME_NAMES[o]) for o in OUTCOMES),
    ("contained_percent", "Contained %"),
    ("booked", "Booked"),
    *((f"booked_{c}", f"Booked: {CHANNEL_NAMES[c]}") for c in CHANNELS),
    ("cancelled", "Cancelled"),
    *((f"cancelled_{c}", f"Cancelled: {CHANNEL_NAMES[c]}") for c in CHANNELS),
]
CAMPAIGN_NAMES = {
    "dialled": "Dialled",
    "reached": "Reached",
    "completed": "Completed",
    "to_agent": "To an agent",
    "opted_out": "Opted out",
    "hung_up": "Hung up",
    "machine": "Answering machine",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "escalated": "Escalated (tasks)",
    "not_reached_tasks": "Not reached (tasks)",
}
CAMPAIGN_COLUMNS = [
    *((f, CAMPAIGN_NAMES[f]) for f in FIGURES),
    ("reached_percent", "Reached %"),
]
COMPLAINT_COLUMNS = [
    ("received", "Received"),
    *((f"severity_{s}", f"Severity: {label(s)}") for s in SEVERITIES),
    ("open", "Open"),
    ("overdue", "Overdue"),
    ("answered_late", "Answered late"),
    ("closed", "Closed"),
    ("time_to_close_average_hours", "Time to close (avg h)"),
]
TASK_COLUMNS = [
    ("created", "Created"),
    *((f"source_{s}", f"From: {label(s)}") for s in SOURCES),
    ("done", "Done"),
    ("cannot_reach", "Could not reach"),
    ("cancelled", "Cancelled"),
    ("open", "Open"),
    ("overdue", "Overdue"),
    ("time_to_done_average_hours", "Time to done (avg h)"),
]


def _bucket_rows(
    period: Period, buckets: Sequence[Bucket], values: Sequence[dict[str, Any]], keys: list[str]
) -> list[list[Any]]:
    return [
        [b.local_start.isoformat(), b.label(period.granularity), *(v[k] for k in keys)]
        for b, v in zip(buckets, values, strict=True)
    ]


def bucket_table(
    period: Period,
    buckets: Sequence[Bucket],
    per_bucket: Sequence[Any],
    total: Any,
    columns: list[tuple[str, str]],
) -> Table:
    """One row per bucket, then the total: figures objects with ``as_dict()``."""
    keys = [k for k, _ in columns]
    rows = _bucket_rows(period, buckets, [f.as_dict() for f in per_bucket], keys)
    totals = total.as_dict()
    rows.append(["", "Total", *(totals[k] for k in keys)])
    return Table(
        ["bucket_start", "bucket", *keys], ["Start", "Period", *(t for _, t in columns)], rows
    )


def named_table(
    name: str, heading: str, lines: dict[str, Any], columns: list[tuple[str, str]]
) -> Table:
    """One row per name (a category, an owner) with its period totals."""
    keys = [k for k, _ in columns]
    rows = [[key, *(figures.as_dict()[k] for k in keys)] for key, figures in lines.items()]
    return Table([name, *keys], [heading, *(t for _, t in columns)], rows)


def ivr_table(report: IvrReport) -> Table:
    return bucket_table(report.period, report.buckets, report.per_bucket, report.total, IVR_COLUMNS)


def ivr_steps_table(report: IvrReport) -> Table:
    """Per menu step: the buckets in which callers hung up there or the IVR finished there
    (empty buckets left out), then the step's total."""
    rows: list[list[Any]] = []
    for line in report.steps:
        for i, bucket in enumerate(report.buckets):
            if line.hung_up[i] or line.contained[i]:
                rows.append(
                    [
                        bucket.local_start.isoformat(),
                        bucket.label(report.period.granularity),
                        line.step,
                        line.hung_up[i],
                        line.contained[i],
                    ]
                )
        rows.append(["", "Total", line.step, line.total_hung_up, line.total_contained])
    return Table(
        ["bucket_start", "bucket", "step", "hung_up", "contained"],
        ["Start", "Period", "Menu step", "Hung up here", "Finished here (no agent)"],
        rows,
    )


def campaign_table(report: CampaignReport) -> Table:
    """Per campaign: a row per bucket (every attempt), a row per attempt number (the whole
    period), then the campaign's total."""
    keys = [k for k, _ in CAMPAIGN_COLUMNS]
    rows: list[list[Any]] = []
    for line in report.campaigns:
        head = [line.campaign_id, line.name]
        for bucket, figures in zip(report.buckets, line.buckets, strict=True):
            values = figures.as_dict()
            start, name = bucket.local_start.isoformat(), bucket.label(report.period.granularity)
            rows.append([start, name, *head, "", *(values[k] for k in keys)])
        for number, figures in line.by_attempt.items():
            values = figures.as_dict()
            rows.append(["", f"Attempt {number}", *head, number, *(values[k] for k in keys)])
        totals = line.total.as_dict()
        rows.append(["", "Total", *head, "", *(totals[k] for k in keys)])
    return Table(
        ["bucket_start", "bucket", "campaign_id", "campaign", "attempt", *keys],
        [
            "Start",
            "Period",
            "Campaign id",
            "Campaign",
            "Attempt",
            *(t for _, t in CAMPAIGN_COLUMNS),
        ],
        rows,
    )


def complaint_table(report: ComplaintReport) -> Table:
    return bucket_table(
        report.period, report.buckets, report.per_bucket, report.total, COMPLAINT_COLUMNS
    )


def category_table(report: ComplaintReport) -> Table:
    return named_table("category", "Category", report.by_category, COMPLAINT_COLUMNS)


def task_table(report: TaskReport) -> Table:
    return bucket_table(
        report.period, report.buckets, report.per_bucket, report.total, TASK_COLUMNS
    )


def owner_table(report: TaskReport) -> Table:
    return named_table("owner", "Owner", report.by_owner, TASK_COLUMNS)


def campaigns_from(request: web.Request) -> list[int] | None:
    """``?campaign=3&campaign=5`` (or ``3,5``): campaign ids, None for every campaign."""
    ids = []
    for raw in names_from(request, "campaign") or []:
        value = ascii_int(raw, max_digits=9)
        if value is None:
            raise ValidationFailed("campaign", "a campaign id (a whole number)")
        ids.append(value)
    return ids or None


def owners_for(request: web.Request) -> list[str] | None:
    """The task owners a report may cover: an agent only themselves."""
    asked = names_from(request, "owner")
    if may_see_all(request):
        return asked
    own = require_session(request).username
    if asked and asked != [own]:
        raise ReportForbidden("agents see their own tasks only")
    return [own]


@dataclass(frozen=True, slots=True)
class Computed:
    table: Table
    totals: Any
    names: list[str] | None  # the filter, for the export's audit row


Build = Callable[[web.Request, Period], Awaitable[Computed]]


@dataclass(frozen=True, slots=True)
class Kind:
    params: frozenset[str]  # beyond the period and format
    build: Build
    supervisors_only: bool = True


async def _ivr(request: web.Request, period: Period) -> Computed:
    report = await ivr_report(request.app[DATABASE], period)
    return Computed(ivr_table(report), report.total.as_dict(), None)


async def _ivr_steps(request: web.Request, period: Period) -> Computed:
    report = await ivr_report(request.app[DATABASE], period)
    totals = {
        s.step: {"hung_up": s.total_hung_up, "contained": s.total_contained} for s in report.steps
    }
    return Computed(ivr_steps_table(report), totals, None)


async def _campaigns(request: web.Request, period: Period) -> Computed:
    ids = campaigns_from(request)
    report = await campaign_report(request.app[DATABASE], period, campaign_ids=ids)
    totals = {
        str(line.campaign_id): {"name": line.name, "kind": line.kind, **line.total.as_dict()}
        for line in report.campaigns
    }
    return Computed(campaign_table(report), totals, [str(i) for i in ids or []] or None)


async def _complaints(request: web.Request, period: Period) -> Computed:
    report = await complaint_report(request.app[DATABASE], period)
    return Computed(complaint_table(report), report.total.as_dict(), None)


async def _categories(request: web.Request, period: Period) -> Computed:
    report = await complaint_report(request.app[DATABASE], period)
    totals = {k: v.as_dict() for k, v in report.by_category.items()}
    return Computed(category_table(report), totals, None)


async def _tasks(request: web.Request, period: Period) -> Computed:
    owners = owners_for(request)
    report = await task_report(request.app[DATABASE], period, owners=owners)
    return Computed(task_table(report), report.total.as_dict(), owners)


async def _owners(request: web.Request, period: Period) -> Computed:
    owners = owners_for(request)
    report = await task_report(request.app[DATABASE], period, owners=owners)
    totals = {k: v.as_dict() for k, v in report.by_owner.items()}
    return Computed(owner_table(report), totals, owners)


KINDS: dict[str, Kind] = {
    "ivr": Kind(frozenset(), _ivr),
    "ivr-steps": Kind(frozenset(), _ivr_steps),
    "campaigns": Kind(frozenset({"campaign"}), _campaigns),
    "complaints": Kind(frozenset(), _complaints),
    "complaint-categories": Kind(frozenset(), _categories),
    "tasks": Kind(frozenset({"owner"}), _tasks, supervisors_only=False),
    "task-owners": Kind(frozenset({"owner"}), _owners, supervisors_only=False),
}
KIND_PATTERN = "|".join(sorted(KINDS, key=len, reverse=True))


def kind_for(request: web.Request) -> tuple[str, Kind]:
    """The report kind the route names, refused to an agent when it is for supervisors."""
    name = request.match_info["kind"]
    kind = KINDS[name]
    if kind.supervisors_only:
        require_all(request, f"{name} reports")
    return name, kind
