"""Campaign figures over a period: per campaign and per attempt number, what the calls came to.

Computed from the campaign attempts and the tasks they created (docs/reports.md). An attempt
counts in the bucket in which it was dialled (``dialled_at``); one never dialled (still
scheduled, or withdrawn before its call) is not in the report. Outcomes, from the attempt's
status and the detail the dialer or the dialog wrote:

- reached: a person answered (answered or completed); of these
  completed (the dialog ran to its end: confirmed, cancelled, answered the survey...),
  to an agent (asked for or sent to an agent), opted out (pressed the opt-out key), hung up
  (during the dialog, or waiting for an agent); the rest are still in the dialog;
- machine (an answering machine), no answer, busy, failed (congestion, a bad number, a lost
  Originate); still dialling: none of these yet;
- escalated: tasks an answer created (source survey); not reached: tasks made because the
  last allowed attempt did not reach the patient (source campaign).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, select

from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import (
    AttemptStatus,
    Campaign,
    CampaignAttempt,
    FollowUpTask,
    TaskSource,
)
from hcrm_core.services.reports_period import Bucket, Period, bucket_index
from hcrm_core.services.reports_queues import bucket_key, group_unit, quarters_since

FIGURES = (
    "dialled",
    "reached",
    "completed",
    "to_agent",
    "opted_out",
    "hung_up",
    "machine",
    "no_answer",
    "busy",
    "failed",
    "escalated",
    "not_reached_tasks",
)
_TO_AGENT = {"to_agent", "agent", "agents_closed_callback"}
_HUNG_UP = {"hung_up_in_dialog", "hung_up", "abandoned"}
_UNREACHED = {
    AttemptStatus.MACHINE: "machine",
    AttemptStatus.NO_ANSWER: "no_answer",
    AttemptStatus.BUSY: "busy",
    AttemptStatus.FAILED: "failed",
    AttemptStatus.CANCELLED: "failed",  # dialled, then refused: a bad number
}


@dataclass(slots=True)
class CampaignFigures:
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        dialled, reached = self.counts["dialled"], self.counts["reached"]
        return {
            **{name: self.counts[name] for name in FIGURES},
            "reached_percent": round(100.0 * reached / dialled, 1) if dialled else None,
        }


@dataclass(slots=True)
class CampaignLine:
    campaign_id: int
    name: str
    kind: str
    buckets: list[CampaignFigures]
    by_attempt: dict[int, CampaignFigures] = field(default_factory=dict)
    total: CampaignFigures = field(default_factory=CampaignFigures)


@dataclass(frozen=True, slots=True)
class CampaignReport:
    period: Period
    buckets: list[Bucket]
    campaigns: list[CampaignLine]


def outcome_of(status: AttemptStatus, detail: str | None) -> tuple[str, ...]:
    """The figures one dialled attempt adds to (besides ``dialled``)."""
    if status in _UNREACHED:
        return (_UNREACHED[status],)
    if status is AttemptStatus.ANSWERED:
        return ("reached",)  # still in its dialog
    if status is AttemptStatus.COMPLETED:
        if detail == "opted_out":
            return ("reached", "opted_out")
        if detail in _TO_AGENT:
            return ("reached", "to_agent")
        if detail in _HUNG_UP:
            return ("reached", "hung_up")
        return ("reached", "completed")
    return ()  # dialling


async def campaign_report(
    database: Database, period: Period, *, campaign_ids: list[int] | None = None
) -> CampaignReport:
    """Figures per campaign (those with attempts dialled in the period, or ``campaign_ids``),
    per bucket and per attempt number. A period without calls is a report of zeros."""
    buckets = period.buckets()
    async with database.session() as session:
        groups = await _attempt_groups(session, database.dialect, period, buckets, campaign_ids)
        tasks = await _task_groups(session, database.dialect, period, buckets, campaign_ids)
        wanted = set(campaign_ids or ()) | {g[0] for g in groups}
        campaigns = (
            await session.execute(
                select(Campaign.id, Campaign.name, Campaign.kind)
                .where(Campaign.id.in_(sorted(wanted)))
                .order_by(Campaign.name, Campaign.id)
            )
        ).all()
    missing = set(campaign_ids or ()) - {c.id for c in campaigns}
    if missing:
        raise ValidationFailed("campaign", f"no campaign with id {min(missing)}")
    lines = {
        c.id: CampaignLine(c.id, c.name, str(c.kind), [CampaignFigures() for _ in buckets])
        for c in campaigns
    }
    for campaign_id, number, index, names, count in [*groups, *tasks]:
        line = lines[campaign_id]
        by_attempt = line.by_attempt.get(number) or line.by_attempt.setdefault(
            number, CampaignFigures()
        )
        for target in (line.buckets[index].counts, by_attempt.counts, line.total.counts):
            for name in names:
                target[name] += count
    for line in lines.values():
        line.by_attempt = dict(sorted(line.by_attempt.items()))
    return CampaignReport(period, buckets, list(lines.values()))


# (campaign id, attempt number, bucket, the figures to add to, how many)
_Group = tuple[int, int, int, tuple[str, ...], int]


async def _attempt_groups(
    session: Any,
    dialect: str,
    period: Period,
    buckets: list[Bucket],
    campaign_ids: list[int] | None,
) -> list[_Group]:
    """The dialled attempts, counted by the database per campaign, attempt number, quarter
    hour (or hour), status and detail."""
    unit = group_unit(period, buckets)
    quarter = quarters_since(CampaignAttempt.dialled_at, period, dialect, unit)
    keys = (
        CampaignAttempt.campaign_id,
        CampaignAttempt.attempt_no,
        quarter,
        CampaignAttempt.status,
        CampaignAttempt.outcome_detail,
    )
    query = (
        select(*keys, func.count())
        .where(CampaignAttempt.dialled_at >= period.start, CampaignAttempt.dialled_at < period.end)
        .group_by(*keys)
    )
    if campaign_ids:
        query = query.where(CampaignAttempt.campaign_id.in_(campaign_ids))
    groups: list[_Group] = []
    first = period.start  # a property that computes: once, not per row
    names: dict[tuple[AttemptStatus, str | None], tuple[str, ...]] = {}
    for campaign_id, number, step, status, detail, count in await session.execute(query):
        index = bucket_index(buckets, first + int(step) * unit)
        if index is not None:
            key = (status, detail)
            if key not in names:
                names[key] = ("dialled", *outcome_of(status, detail))
            groups.append((campaign_id, number, index, names[key], int(count)))
    return groups


async def _task_groups(
    session: Any,
    dialect: str,
    period: Period,
    buckets: list[Bucket],
    campaign_ids: list[int] | None,
) -> list[_Group]:
    """The tasks the period's attempts made (created from the period's start on: a task
    always follows its attempt's call), as figures of those attempts, counted by the
    database per campaign, attempt number, step of the attempt's call and source."""
    key, index_of = bucket_key(CampaignAttempt.dialled_at, period, buckets, dialect)
    made = (
        select(FollowUpTask.source_kind.label("kind"), _attempt_of(dialect).label("attempt_id"))
        .where(
            FollowUpTask.created_at >= period.start,
            FollowUpTask.source_kind.in_((TaskSource.SURVEY, TaskSource.CAMPAIGN)),
        )
        .subquery("made")
    )
    keys = (CampaignAttempt.campaign_id, CampaignAttempt.attempt_no, key, made.c.kind)
    query = (
        select(*keys, func.count())
        .select_from(made)
        .join(CampaignAttempt, CampaignAttempt.id == made.c.attempt_id)
        .where(CampaignAttempt.dialled_at >= period.start, CampaignAttempt.dialled_at < period.end)
        .group_by(*keys)
    )
    if campaign_ids:
        query = query.where(CampaignAttempt.campaign_id.in_(campaign_ids))
    groups: list[_Group] = []
    for campaign_id, number, step, kind, count in await session.execute(query):
        index = index_of(step)
        if index is not None:
            figure = "escalated" if TaskSource(kind) is TaskSource.SURVEY else "not_reached_tasks"
            groups.append((campaign_id, number, index, (figure,), int(count)))
    return groups


def _attempt_of(dialect: str) -> Any:
    """A task's attempt, in SQL: ``source_attempt_id``, else the id in a ``source_ref`` of
    ``attempt:<digits>`` (what the dialer writes)."""
    ref = FollowUpTask.source_ref
    digits = func.substr(ref, 9)
    # At most 18 digits: a bigint (a longer number is no attempt's id).
    if dialect == "postgresql":
        is_attempt = ref.regexp_match("^attempt:[0-9]{1,18}$")
    else:
        is_attempt = and_(
            ref.op("GLOB")("attempt:[0-9]*"),
            digits.op("NOT GLOB")("*[^0-9]*"),
            func.length(digits) <= 18,
        )
    parsed = case((is_attempt, cast(digits, BigInteger)), else_=None)
    return func.coalesce(FollowUpTask.source_attempt_id, parsed)
